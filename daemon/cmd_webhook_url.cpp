// `gitsyncd webhook-url NAME [--rotate]`: the URL to paste into the provider's webhook
// settings, <public_url>/webhooks/<connector-id>/<token>. The token is made on first use and
// by --rotate; the daemon keeps only its hash. A copy is kept encrypted in the secret store
// (when one exists) so the URL can be shown again; without a store it is shown once.
#include <boost/json.hpp>

#include <cstdio>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "daemon/managed_webhooks.h"
#include "webhooks/webhook_tokens.h"

namespace gitsyncd {
namespace {

// After a rotation, hooks registered with the old URL would stop working: correct them.
void UpdateRegisteredHooks(const Config& config, const ConnectorConfig& c, SecretStore* store) {
  if (!c.api.token.present() || config.daemon.listen.public_url.empty() || !store) {
    std::fprintf(stderr, "gitsyncd: note: hooks registered with the old URL are not updated (%s)\n",
                 !c.api.token.present() ? "no api.token" : !store ? "no secret store" : "no listen.public_url");
    return;
  }
  for (const auto& o : SyncConnectorHooks(config, c, store, HookAction::kUpdateExisting, false)) {
    for (const auto& line : o.changes.actions) std::fprintf(stderr, "%s\n", line.c_str());
    if (!o.status.ok()) std::fprintf(stderr, "gitsyncd: warning: %s: %s\n", o.repo.c_str(), o.status.message().c_str());
  }
}

const char* ProviderHint(Provider p) {
  switch (p) {
    case Provider::kGitHub:
      return "GitHub: Settings > Webhooks > Add webhook; content type application/json; secret = webhook.secret; "
             "events: just the push event";
    case Provider::kBitbucketCloud:
      return "Bitbucket Cloud: Repository settings > Webhooks > Add webhook; secret = webhook.secret; "
             "trigger: repository push";
    case Provider::kBitbucketServer:
      return "Bitbucket Server/Data Center: Repository settings > Webhooks > Create webhook; secret = webhook.secret; "
             "event: repository push (or the Post Webhooks app with this URL)";
    case Provider::kGitLab:
      return "GitLab: Settings > Webhooks; secret token = webhook.secret; trigger: push events";
    case Provider::kAzureRepos:
      return "Azure DevOps: Project settings > Service hooks > Web Hooks, event 'Code pushed'; basic auth password = "
             "webhook.secret";
    case Provider::kGit:
      return "send POST requests with the payload of a supported provider (GitHub, Bitbucket, GitLab, Azure DevOps)";
  }
  return "";
}

}  // namespace

void RegisterWebhookUrlCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("webhook-url", "Print the webhook URL to register in the provider (--rotate: a new one)");
  auto name = std::make_shared<std::string>();
  auto rotate = std::make_shared<bool>(false);
  cmd->add_option("NAME", *name, "Connector name")->required();
  cmd->add_flag("--rotate", *rotate, "Replace the token: the old URL stops working");
  cmd->callback([&ctx, name, rotate] {
    ctx.action = [&ctx, name, rotate] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      const ConnectorConfig* c = config->FindConnector(*name);
      if (!c) return UserError("no connector named '" + *name + "' in " + ctx.config_dir);
      if (!c->webhook.enabled) {
        return UserError("connector '" + c->name + "' (" + c->file +
                         ") has no webhook: set `webhook: {enabled: true}` to get a webhook URL");
      }
      const DaemonConfig& d = config->daemon;
      std::string id = ConnectorId(c->name);
      auto store = SecretStore::OpenForDaemon(d);
      std::string token;
      if (!*rotate && WebhookTokens::Exists(d, id)) {
        auto kept = store.ok() ? store->Get(WebhookTokenStoreName(id)) : Result<std::string>(store.status());
        if (!kept.ok()) {
          return UserError("the webhook token of '" + c->name +
                           "' is stored hashed only and cannot be shown again; run `gitsyncd webhook-url " + c->name +
                           " --rotate` for a new URL (then update it in the provider)");
        }
        token = *kept;
      } else {
        auto fresh = WebhookTokens::Rotate(d, id);
        if (!fresh.ok()) return UserError(fresh.status().message());
        token = *fresh;
        if (store.ok()) {
          Status saved = store->Set(WebhookTokenStoreName(id), token);
          if (!saved.ok()) std::fprintf(stderr, "gitsyncd: warning: %s\n", saved.message().c_str());
        } else {
          std::fprintf(stderr,
                       "gitsyncd: note: no secret store (%s): this URL is shown only now; --rotate makes a new one\n",
                       store.status().message().c_str());
        }
        // A running daemon picks the new token up at once; without one it is read at start.
        (void)ControlRequest(ControlSocketPath(d.state_dir), "reload-webhook-tokens");
        if (*rotate) UpdateRegisteredHooks(*config, *c, store.ok() ? &*store : nullptr);
      }
      std::printf("%s/webhooks/%s/%s\n", WebhookPublicBase(d.listen).c_str(), id.c_str(), token.c_str());
      std::fprintf(stderr, "register it in %s\n", ProviderHint(c->provider));
      return kExitOk;
    };
  });
}

}  // namespace gitsyncd
