// `gitsyncd cluster status`: every live instance of the fleet (docs/fleet.md), its selectors,
// bindings, each binding's last synced commit and whether that is the branch head, which it
// reads from the remote itself (once per remote and branch; --no-remote skips that).

#include <cstdio>
#include <map>

#include "cluster/fleet.h"
#include "daemon/cli.h"
#include "sync/remote_credentials.h"
#include "sync/connection_check.h"

namespace gitsyncd {
namespace {

// remote + "\n" + branch -> head commit, or "" when it cannot be read (the error in `errors`).
BranchHeads ReadBranchHeads(const Config& config, const std::vector<FleetMember>& members,
                            std::map<std::string, std::string>* errors) {
  BranchHeads heads;
  auto store = SecretStore::OpenForDaemon(config.daemon);
  if (gitsyncd::Status tls = ConfigureTls(config.daemon.ca_file); !tls.ok()) return heads;
  for (const auto& m : members) {
    for (const auto& b : m.bindings) {
      std::string key = b.remote + "\n" + b.branch;
      if (heads.count(key)) continue;
      heads[key] = "";
      const ConnectorConfig* c = config.FindConnector(b.connector);
      if (c == nullptr || c->fetch == FetchMode::kApi) continue;
      auto creds = ResolveRemoteCredentials(config, *c, b.remote, store.ok() ? &*store : nullptr);
      auto report = creds.ok() ? CheckConnection(*creds, b.branch) : Result<ConnectionReport>(creds.status());
      if (report.ok()) {
        heads[key] = report->branch_head;
      } else {
        (*errors)[key] = report.status().message();
      }
    }
  }
  return heads;
}

void PrintText(const ClusterConfig& cluster, const std::vector<FleetMember>& members,
               const BranchHeads& heads, bool asked) {
  std::printf("fleet %s: %zu live instance%s\n", cluster.prefix.c_str(), members.size(), members.size() == 1 ? "" : "s");
  for (const auto& m : members) {
    std::string selectors;
    for (const auto& s : m.selectors) selectors += (selectors.empty() ? "" : ",") + s;
    std::printf("\n%s  selectors: %s  started %s  reported %s\n", m.name.c_str(),
                selectors.empty() ? "(none)" : selectors.c_str(), m.started.c_str(), m.updated.c_str());
    if (m.bindings.empty()) std::printf("  (no bindings)\n");
    for (const auto& b : m.bindings) {
      std::string commit = b.commit.empty() ? "-" : b.commit.substr(0, 12);
      std::string state = BehindHead(b, heads, asked);
      std::printf("  %-24s %-10s %-12s %s%s%s\n", b.name.c_str(), b.branch.c_str(), commit.c_str(),
                  b.synced_at.empty() ? "never synced" : ("synced " + b.synced_at).c_str(),
                  state.empty() ? "" : ("  " + state).c_str(), b.error.empty() ? "" : ("  error: " + b.error).c_str());
    }
  }
}

int ClusterStatus(CliContext& ctx, bool as_json, bool no_remote) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  const ClusterConfig& cluster = config->daemon.cluster;
  if (!cluster.configured) return UserError("gitsyncd.yaml has no `cluster:` section: this daemon runs standalone");
  auto store = SecretStore::OpenForDaemon(config->daemon);
  auto options = ClusterClientOptions(cluster, store.ok() ? &*store : nullptr, config->dir);
  if (!options.ok()) return UserError(options.status().message());
  EtcdClient client(*options);
  auto members = ListMembers(client, cluster);
  if (!members.ok()) return UserError("cannot read the fleet from etcd: " + members.status().message());
  std::map<std::string, std::string> errors;
  auto heads = no_remote ? BranchHeads() : ReadBranchHeads(*config, *members, &errors);
  if (as_json) {
    std::printf("%s\n", FleetStatusJson(*members, heads, !no_remote).c_str());
  } else {
    PrintText(cluster, *members, heads, !no_remote);
  }
  for (const auto& [key, why] : errors) {
    std::fprintf(stderr, "gitsyncd: cannot read the head of %s: %s\n", key.substr(key.find('\n') + 1).c_str(), why.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterClusterCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("cluster", "The fleet this instance belongs to (gitsyncd.yaml `cluster:`)");
  cmd->require_subcommand(1);
  auto* status = cmd->add_subcommand("status", "List live instances, their selectors, bindings and commits");
  auto as_json = std::make_shared<bool>(false);
  auto no_remote = std::make_shared<bool>(false);
  status->add_flag("--json", *as_json, "Print JSON");
  status->add_flag("--no-remote", *no_remote, "Do not read branch heads from the remotes");
  status->callback([&ctx, as_json, no_remote] {
    ctx.action = [&ctx, as_json, no_remote] { return ClusterStatus(ctx, *as_json, *no_remote); };
  });
}

}  // namespace gitsyncd
