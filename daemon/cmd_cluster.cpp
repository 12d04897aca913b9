// `gitsyncd cluster status`: every live instance of the fleet (docs/fleet.md), its selectors,
// bindings, each binding's last synced commit and whether that is the branch head, which it
// reads from the remote itself (once per remote and branch; --no-remote skips that).
#include <boost/json.hpp>

#include <cstdio>
#include <map>

#include "cluster/fleet.h"
#include "daemon/cli.h"
#include "sync/remote_credentials.h"
#include "sync/connection_check.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

// remote + "\n" + branch -> head commit, or "" when it cannot be read (the error in `errors`).
std::map<std::string, std::string> BranchHeads(const Config& config, const std::vector<FleetMember>& members,
                                               std::map<std::string, std::string>* errors) {
  std::map<std::string, std::string> heads;
  auto store = CliContext::OpenStore(config.daemon);
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

std::string Behind(const FleetBinding& b, const std::map<std::string, std::string>& heads, bool asked) {
  if (!asked) return "";
  auto it = heads.find(b.remote + "\n" + b.branch);
  if (it == heads.end() || it->second.empty()) return "head unknown";
  if (b.commit.empty()) return "not synced yet (head " + it->second.substr(0, 12) + ")";
  return b.commit == it->second ? "at head" : "behind head " + it->second.substr(0, 12);
}

json::value ToJson(const std::vector<FleetMember>& members, const std::map<std::string, std::string>& heads, bool asked) {
  json::array out;
  for (const auto& m : members) {
    json::array bindings;
    for (const auto& b : m.bindings) {
      auto it = heads.find(b.remote + "\n" + b.branch);
      bindings.push_back(json::object{{"name", b.name},     {"connector", b.connector},
                                      {"branch", b.branch}, {"commit", b.commit},
                                      {"synced_at", b.synced_at},
                                      {"head", it == heads.end() ? "" : it->second},
                                      {"state", Behind(b, heads, asked)}, {"error", b.error}});
    }
    out.push_back(json::object{{"name", m.name},
                               {"selectors", json::array(m.selectors.begin(), m.selectors.end())},
                               {"started", m.started},
                               {"updated", m.updated},
                               {"bindings", std::move(bindings)}});
  }
  return json::object{{"instances", std::move(out)}};
}

void PrintText(const ClusterConfig& cluster, const std::vector<FleetMember>& members,
               const std::map<std::string, std::string>& heads, bool asked) {
  std::printf("fleet %s: %zu live instance%s\n", cluster.prefix.c_str(), members.size(), members.size() == 1 ? "" : "s");
  for (const auto& m : members) {
    std::string selectors;
    for (const auto& s : m.selectors) selectors += (selectors.empty() ? "" : ",") + s;
    std::printf("\n%s  selectors: %s  started %s  reported %s\n", m.name.c_str(),
                selectors.empty() ? "(none)" : selectors.c_str(), m.started.c_str(), m.updated.c_str());
    if (m.bindings.empty()) std::printf("  (no bindings)\n");
    for (const auto& b : m.bindings) {
      std::string commit = b.commit.empty() ? "-" : b.commit.substr(0, 12);
      std::string state = Behind(b, heads, asked);
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
  auto store = CliContext::OpenStore(config->daemon);
  auto options = ClusterClientOptions(cluster, store.ok() ? &*store : nullptr, config->dir);
  if (!options.ok()) return UserError(options.status().message());
  EtcdClient client(*options);
  auto members = ListMembers(client, cluster);
  if (!members.ok()) return UserError("cannot read the fleet from etcd: " + members.status().message());
  std::map<std::string, std::string> errors;
  auto heads = no_remote ? std::map<std::string, std::string>() : BranchHeads(*config, *members, &errors);
  if (as_json) {
    std::printf("%s\n", json::serialize(ToJson(*members, heads, !no_remote)).c_str());
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
