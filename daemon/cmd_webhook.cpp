// `gitsyncd webhook register NAME [--dry-run]` and `gitsyncd webhook unregister NAME`: the
// connector's hook in each repository it syncs, through the provider's API.
#include <cstdio>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "daemon/managed_webhooks.h"

namespace gitsyncd {
namespace {

int RunHooks(CliContext& ctx, const std::string& name, bool remove, bool dry_run) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  const ConnectorConfig* c = config->FindConnector(name);
  if (!c) return UserError("no connector named '" + name + "' in " + ctx.config_dir);
  if (!c->webhook.enabled) {
    return UserError("connector '" + c->name + "' (" + c->file + ") has no webhook: set `webhook: {enabled: true}`");
  }
  if (!c->api.token.present()) {
    return UserError("connector '" + c->name + "' (" + c->file + ") has no api.token: registering hooks needs a token "
                     "that may manage them");
  }
  if (!remove && config->daemon.listen.public_url.empty()) {
    return UserError("listen.public_url is not set in " + config->daemon.file +
                     ": the provider needs the public address to deliver to");
  }
  auto store = SecretStore::OpenForDaemon(config->daemon);
  auto outcomes = SyncConnectorHooks(*config, *c, store.ok() ? &*store : nullptr,
                                     remove ? HookAction::kUnregister : HookAction::kRegister, dry_run);
  int failed = 0;
  for (const auto& o : outcomes) {
    for (const auto& line : o.changes.actions) std::printf("%s%s\n", dry_run ? "would " : "", line.c_str());
    if (!o.status.ok()) {
      ++failed;
      std::fprintf(stderr, "gitsyncd: error: %s: %s\n", o.repo.c_str(), o.status.message().c_str());
    }
  }
  if (!remove && !dry_run) (void)ControlRequest(ControlSocketPath(config->daemon.state_dir), "reload-webhook-tokens");
  if (failed) return kExitUserError;
  return kExitOk;
}

}  // namespace

void RegisterWebhookCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("webhook", "Register or remove the connector's webhook in its repositories");
  cmd->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto* reg = cmd->add_subcommand("register", "Make sure each repository has exactly one hook for this connector");
  reg->add_option("NAME", *name, "Connector name")->required();
  reg->add_flag("--dry-run", *dry_run, "Only print what would change");
  reg->callback([&ctx, name, dry_run] { ctx.action = [&ctx, name, dry_run] { return RunHooks(ctx, *name, false, *dry_run); }; });
  auto* unreg = cmd->add_subcommand("unregister", "Remove this connector's hooks from its repositories");
  unreg->add_option("NAME", *name, "Connector name")->required();
  unreg->callback([&ctx, name] { ctx.action = [&ctx, name] { return RunHooks(ctx, *name, true, false); }; });
}

}  // namespace gitsyncd
