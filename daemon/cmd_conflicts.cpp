// `gitsyncd conflicts [NAME] [--json] [--all]`: the conflict branches merges pushed, with their
// files and both sides' commits, read from the state directory (daemon or not).
// `gitsyncd conflicts resolve NAME BRANCH [--delete-branch]`: marks one resolved, through the
// daemon when it runs (it is the only writer of its state), else under the instance lock.
#include <cstdio>

#include "daemon/binding_control.h"
#include "daemon/cli.h"
#include "sync/remote_credentials.h"
#include "sync/conflicts.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

// Which side the conflict branch holds: the side the policy did not put in the folder.
const char* BranchHolds(const ConflictRecord& c) { return c.policy == "prefer-local" ? "remote" : "local"; }

json::object ConflictJson(const std::string& binding, const ConflictRecord& c) {
  json::array files;
  for (const auto& f : c.files) files.emplace_back(f);
  return json::object{{"binding", binding},           {"branch", c.branch},
                      {"time", c.time},               {"policy", c.policy},
                      {"files", std::move(files)},    {"local_commit", c.local_commit},
                      {"remote_commit", c.remote_commit}, {"branch_holds", BranchHolds(c)},
                      {"resolved", c.resolved},       {"resolved_time", c.resolved_time}};
}

void PrintConflict(const std::string& binding, const ConflictRecord& c) {
  auto side = [](const std::string& hex) { return hex.empty() ? std::string("(not recorded)") : hex; };
  std::printf("%s  %s  %s (%s, %s)\n", binding.c_str(), c.branch.c_str(),
              c.resolved ? ("resolved " + c.resolved_time).c_str() : "OPEN", c.policy.c_str(), c.time.c_str());
  std::printf("  local:   %s%s\n", side(c.local_commit).c_str(),
              std::string(BranchHolds(c)) == "local" ? "  (on the conflict branch)" : "  (in the folder and branch)");
  std::printf("  remote:  %s%s\n", side(c.remote_commit).c_str(),
              std::string(BranchHolds(c)) == "remote" ? "  (on the conflict branch)" : "  (in the folder and branch)");
  for (const auto& f : c.files) std::printf("  file:    %s\n", f.c_str());
}

int List(CliContext& ctx, const std::string& only, bool as_json, bool all) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  if (!only.empty() && !FindSync(*config, only)) return UserError("no sync binding named '" + only + "' in " + ctx.config_dir);
  json::array out;
  size_t shown = 0;
  for (const auto& c : config->connectors) {
    for (const auto& s : c.syncs) {
      if (!only.empty() && s.name != only) continue;
      auto st = LoadBindingState(BindingStateDir(config->daemon, s.name));
      if (!st.ok()) return UserError(st.status().message());
      for (const auto& k : st->conflicts) {
        if (k.resolved && !all) continue;
        ++shown;
        if (as_json) out.push_back(ConflictJson(s.name, k));
        else PrintConflict(s.name, k);
      }
    }
  }
  if (as_json) std::printf("%s\n", json::serialize(json::object{{"conflicts", std::move(out)}}).c_str());
  else if (shown == 0) std::printf("no %sconflicts\n", all ? "" : "open ");
  return kExitOk;
}

// When no daemon runs: the CLI resolves it itself (the branch deletion uses the connector's
// credentials, as the daemon would).
Result<json::object> ResolveOffline(const Config& config, const std::string& name, const std::string& branch,
                                    bool delete_branch) {
  const ConnectorConfig* connector = nullptr;
  const SyncBinding* sync = FindSync(config, name, &connector);
  RemoteCredentials creds;
  if (delete_branch) {
    Status tls = ConfigureTls(config.daemon.ca_file);
    if (!tls.ok()) return tls;
    auto store = SecretStore::OpenForDaemon(config.daemon);
    auto resolved = ResolveRemoteCredentials(config, *connector, sync->remote_url, store.ok() ? &*store : nullptr);
    if (!resolved.ok()) return resolved.status();
    creds = std::move(resolved).value();
  }
  BindingSpec spec = MakeBindingSpec(config.daemon, *connector, *sync, std::move(creds));
  Status s = EditStateOffline(config.daemon, spec, [&](const BindingSpec& sp, BindingState& st) {
    return ResolveConflict(sp, &st, branch, delete_branch);
  });
  if (!s.ok()) return s;
  return json::object{{"deleted", delete_branch}};
}

int Resolve(CliContext& ctx, const std::string& name, const std::string& branch, bool delete_branch) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  if (!FindSync(*config, name)) return UserError("no sync binding named '" + name + "' in " + ctx.config_dir);
  if (branch.empty() || branch.find_first_of(" \n") != std::string::npos) return UserError("no such conflict branch");
  std::string request = "conflicts-resolve " + name + " " + branch + (delete_branch ? " --delete-branch" : "");
  auto answer = AskDaemonOrOffline(config->daemon, request,
                                   [&] { return ResolveOffline(*config, name, branch, delete_branch); });
  if (!answer.ok()) return UserError(answer.status().message());
  std::printf("%s: conflict %s marked resolved%s\n", name.c_str(), branch.c_str(),
              delete_branch ? "; the branch is deleted on the remote" : "");
  return kExitOk;
}

}  // namespace

void RegisterConflictsCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("conflicts", "List open conflict branches: their files and both sides' commits");
  auto name = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  cmd->add_option("NAME", *name, "Only this sync binding");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->add_flag("--all", *all, "Include resolved conflicts");
  cmd->callback([&ctx, name, as_json, all] {
    if (ctx.action) return;  // `conflicts resolve` chose its own
    ctx.action = [&ctx, name, as_json, all] { return List(ctx, *name, *as_json, *all); };
  });
  auto* resolve = cmd->add_subcommand("resolve", "Mark a conflict resolved (the metric and `status` drop it)");
  auto rname = std::make_shared<std::string>();
  auto branch = std::make_shared<std::string>();
  auto del = std::make_shared<bool>(false);
  resolve->add_option("NAME", *rname, "Sync binding name")->required();
  resolve->add_option("BRANCH", *branch, "The conflict branch (gitsyncd/conflicts/...)")->required();
  resolve->add_flag("--delete-branch", *del, "Also delete the conflict branch on the remote");
  resolve->callback([&ctx, rname, branch, del] {
    ctx.action = [&ctx, rname, branch, del] { return Resolve(ctx, *rname, *branch, *del); };
  });
}

}  // namespace gitsyncd
