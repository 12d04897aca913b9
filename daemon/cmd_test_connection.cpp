// `gitsyncd test-connection NAME [--repo R]`: the "Test" button of a connector.
#include <cstdio>

#include "daemon/cli.h"
#include "daemon/managed_webhooks.h"
#include "sync/remote_credentials.h"
#include "api/provider_api.h"
#include "sync/connection_check.h"

namespace gitsyncd {
namespace {

// fetch: api connectors never use Git: check the token, its scopes and the branch through the API.
int TestApi(const Config& config, const ConnectorConfig& c, const std::string& url, const std::string& token) {
  ApiTarget target = ConnectorApiTarget(config.daemon, c, url, token);
  auto api = MakeProviderApi(target);
  if (!api.ok()) return UserError("test-connection '" + c.name + "' failed: " + api.status().message());
  auto access = (*api)->CheckAccess();
  if (!access.ok()) return UserError("test-connection '" + c.name + "' failed: " + access.status().message());
  // Bindings that push or sync both ways write through the API: the token must be allowed to.
  const SyncBinding* writer = nullptr;
  for (const auto& s : c.syncs) {
    if (s.direction != SyncDirection::kPull && writer == nullptr) writer = &s;
  }
  if (writer && access->can_write == false) {
    return UserError("test-connection '" + c.name + "' failed: sync '" + writer->name +
                     "' writes back through the API, but the token may not write to " + target.repo + ": it needs " +
                     access->write_needs);
  }
  auto head = (*api)->BranchHead(c.branch);
  if (!head.ok()) return UserError("test-connection '" + c.name + "' failed: " + head.status().message());
  std::string write = !writer ? "" : access->can_write ? ", may write" : ", write access not reported";
  std::printf("OK: %s (API %s): token accepted%s%s, branch %s at %s\n", target.repo.c_str(),
              (*api)->ApiBase().c_str(),
              access->scopes_reported ? (", scopes: " + access->scopes).c_str() : " (scopes not reported)",
              write.c_str(), c.branch.c_str(), head->substr(0, 12).c_str());
  return kExitOk;
}

}  // namespace

void RegisterTestConnectionCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("test-connection",
                                 "Check a connector: resolve the URL, authenticate, list refs, check the branch");
  auto name = std::make_shared<std::string>();
  auto repo = std::make_shared<std::string>();
  cmd->add_option("NAME", *name, "Connector name")->required();
  cmd->add_option("--repo", *repo, "Repository to test (account connectors; default: test_repo)");
  cmd->callback([&ctx, name, repo] {
    ctx.action = [&ctx, name, repo] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      const ConnectorConfig* c = config->FindConnector(*name);
      if (c == nullptr) return UserError("no connector named '" + *name + "' in " + ctx.config_dir);
      std::string url = c->url;
      if (c->url_type == UrlType::kAccount) {
        std::string r = !repo->empty() ? *repo : c->test_repo;
        if (r.empty()) return UserError("connector '" + *name + "' has an account URL: give --repo or set test_repo");
        auto composed = ComposeRepoUrl(c->provider, c->url, r);
        if (!composed.ok()) return UserError(composed.status().message());
        url = *composed;
      } else if (!repo->empty()) {
        return UserError("--repo is only for account connectors; '" + *name + "' names one repository");
      }
      auto store = SecretStore::OpenForDaemon(config->daemon);
      auto creds = ResolveRemoteCredentials(*config, *c, url, store.ok() ? &*store : nullptr);
      if (!creds.ok()) return UserError(creds.status().message());
      int rc = kExitOk;
      if (c->fetch == FetchMode::kApi) {
        rc = TestApi(*config, *c, url, creds->api_token);
      } else {
        Status tls = ConfigureTls(config->daemon.ca_file);
        if (!tls.ok()) return UserError(tls.message());
        auto report = CheckConnection(*creds, c->branch);
        if (!report.ok()) return UserError("test-connection '" + *name + "' failed: " + report.status().message());
        std::printf("OK: %s: authenticated, %zu refs, branch %s at %s\n", url.c_str(), report->ref_count,
                    c->branch.c_str(), report->branch_head.substr(0, 12).c_str());
      }
      // The hook is reported, not tested: a connection that works without one still works.
      if (rc == kExitOk && c->webhook.enabled) {
        std::printf("%s\n", DescribeConnectorHook(*config, *c, store.ok() ? &*store : nullptr, url,
                                                   creds->api_token).c_str());
      }
      return rc;
    };
  });
}

}  // namespace gitsyncd
