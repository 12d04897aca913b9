#include "daemon/fleet_link.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "cluster/selectors.h"

namespace gitsyncd {
namespace {

// binding name -> (connector, binding) of `config`.
std::map<std::string, std::pair<const ConnectorConfig*, const SyncBinding*>> Bindings(const Config& config) {
  std::map<std::string, std::pair<const ConnectorConfig*, const SyncBinding*>> out;
  for (const auto& c : config.connectors) {
    for (const auto& s : c.syncs) out[s.name] = {&c, &s};
  }
  return out;
}

}  // namespace

std::vector<FleetBinding> FleetBindings(const Config& config, const SyncEngine& engine) {
  auto all = Bindings(config);
  std::vector<FleetBinding> out;
  for (const auto& st : engine.Snapshot()) {
    auto it = all.find(st.name);
    if (it == all.end() || st.elsewhere) continue;
    const auto& [c, s] = it->second;
    FleetBinding b{s->name, c->name, s->remote_url, s->branch, s->path, "", "", st.last_error};
    if (st.state) {
      b.commit = st.state->last_synced_commit;
      b.synced_at = st.state->last_success_time;
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<std::string> BindingsForPush(const Config& config, const SyncEngine& engine, const FleetPush& push) {
  auto all = Bindings(config);
  std::vector<std::string> out;
  for (const auto& st : engine.Snapshot()) {
    auto it = all.find(st.name);
    if (it == all.end()) continue;
    const SyncBinding& s = *it->second.second;
    if (s.remote_url != push.remote || s.branch != push.branch) continue;
    // An exclusive binding another instance runs: no pass of it starts here, so its relayed
    // objects are not worth indexing (its owner takes them; a takeover fetches).
    if (st.elsewhere) continue;
    if (!push.commit.empty() && st.state && st.state->last_synced_commit == push.commit) {
      spdlog::debug("sync '{}': already at {} ({} received by {}); no fetch", st.name, push.commit.substr(0, 12),
                    push.reason, push.from);
      continue;
    }
    out.push_back(st.name);
  }
  return out;
}

bool ServesBranch(const Config& config, const SyncEngine& engine, const std::string& remote, const std::string& branch) {
  auto all = Bindings(config);
  for (const auto& st : engine.Snapshot()) {
    auto it = all.find(st.name);
    if (st.elsewhere || it == all.end()) continue;  // as BindingsForPush: its owner takes the pack
    if (it->second.second->remote_url == remote && it->second.second->branch == branch) return true;
  }
  return false;
}

void TriggerFleetPush(const Config& config, SyncEngine& engine, const FleetPush& push) {
  for (const auto& name : BindingsForPush(config, engine, push)) {
    engine.TriggerRemote(name, "fleet: " + push.reason + " received by " + push.from);
  }
}

FleetPush PushForBinding(const Config& config, const std::string& binding, const std::string& reason,
                         const std::string& commit) {
  FleetPush p;
  // A deleted branch's "after" is all zeros: no commit to compare with.
  if (commit.find_first_not_of('0') != std::string::npos) p.commit = commit;
  auto all = Bindings(config);
  if (auto it = all.find(binding); it != all.end()) {
    p.remote = it->second.second->remote_url;
    p.branch = it->second.second->branch;
  }
  p.reason = reason;
  // The webhook service's reason is "webhook <provider> <delivery id>".
  if (reason.rfind("webhook ", 0) == 0 && std::count(reason.begin(), reason.end(), ' ') == 2) {
    p.delivery = reason.substr(reason.rfind(' ') + 1);
  }
  return p;
}

void ApplyOwnership(const Config& config, SyncEngine& engine, const std::set<std::string>& owned) {
  for (const auto& name : ExclusiveCandidates(config)) {
    bool here = owned.count(name) > 0;
    if (engine.SetRunElsewhere(name, !here) && !here) spdlog::debug("sync '{}': run by another instance", name);
  }
}

std::string FleetViewJson(const Fleet& fleet) {
  FleetView v = fleet.View();
  return FleetStatusJson(v.members, v.heads, true, {{"error", v.error}, {"read_at", v.read_at}});
}

Result<std::unique_ptr<Fleet>> StartFleet(const Config& config, const SecretStore* store, Fleet::Callbacks callbacks) {
  if (!config.daemon.cluster.configured) return std::unique_ptr<Fleet>();
  auto options = ClusterClientOptions(config.daemon.cluster, store, config.dir);
  if (!options.ok()) return options.status();
  return std::make_unique<Fleet>(config.daemon.cluster, config.daemon.instance, std::move(*options), std::move(callbacks));
}

}  // namespace gitsyncd
