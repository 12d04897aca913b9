#include "daemon/status_json.h"

#include <ctime>

#include "config/provider.h"

namespace gitsyncd {

namespace json = boost::json;

namespace {

// A link to the provider's page, only where the provider has one (never for plain Git).
void AddUrl(json::object& o, const char* key, std::string url) {
  if (!url.empty()) o[key] = std::move(url);
}

}  // namespace

json::object BindingStatusJson(const ConnectorConfig& c, const SyncBinding& s, const Result<BindingState>& st) {
  json::object o{{"name", s.name}, {"connector", c.name}, {"remote", s.remote_url}, {"branch", s.branch},
                 {"path", s.path}, {"local", s.local}, {"direction", std::string(SyncDirectionName(s.direction))}};
  AddUrl(o, "branch_url", BranchWebUrl(c.provider, s.remote_url, s.branch));
  if (!st.ok()) {
    o["state_error"] = st.status().message();
    return o;
  }
  o["last_synced_commit"] = st->last_synced_commit;
  AddUrl(o, "last_synced_commit_url", CommitWebUrl(c.provider, s.remote_url, st->last_synced_commit));
  o["last_success_time"] = st->last_success_time;
  // Counted here, not in the reader's browser, whose clock may differ from this host's.
  if (auto t = ParseIso8601(st->last_success_time)) o["seconds_since_success"] = std::time(nullptr) - *t;
  o["pending_local_changes"] = st->pending_local_changes;
  o["last_error"] = st->last_error;
  o["last_error_time"] = st->last_error_time;
  o["consecutive_failures"] = st->consecutive_failures;
  o["paused"] = st->paused;
  o["paused_since"] = st->paused_time;
  json::array warnings;
  for (const auto& w : st->warnings) warnings.emplace_back(w);
  o["warnings"] = std::move(warnings);
  json::array conflicts;
  for (const auto& k : st->conflicts) {
    json::array files;
    for (const auto& f : k.files) files.emplace_back(f);
    json::object co{{"branch", k.branch}, {"time", k.time}, {"policy", k.policy},
                    {"files", std::move(files)}, {"resolved", k.resolved}, {"resolved_time", k.resolved_time},
                    {"local_commit", k.local_commit}, {"remote_commit", k.remote_commit}};
    if (!k.commit.empty()) co["commit"] = k.commit;
    AddUrl(co, "commit_url", CommitWebUrl(c.provider, s.remote_url, k.commit));
    AddUrl(co, "branch_url", BranchWebUrl(c.provider, s.remote_url, k.branch));
    conflicts.push_back(std::move(co));
  }
  o["conflicts"] = std::move(conflicts);
  json::array hooks;
  for (const auto& h : st->hooks) {
    hooks.push_back(json::object{{"hook", h.hook}, {"time", h.time}, {"commit", h.commit}, {"ok", h.ok}, {"result", h.result}});
  }
  o["hooks"] = std::move(hooks);
  if (!st->refused.commit.empty()) {
    o["refused"] = json::object{{"commit", st->refused.commit}, {"kind", st->refused.kind},
                                {"file", st->refused.file}, {"line", st->refused.line}};
  }
  return o;
}

void AddDeliveriesJson(json::object& o, const std::vector<DeliveryRecord>& newest_first) {
  json::array a;
  for (const auto& r : newest_first) a.push_back(DeliveryRecordJson(r));
  o["deliveries"] = std::move(a);
}

void AddPassesJson(json::object& o, const ConnectorConfig& c, const SyncBinding& s,
                   const std::vector<PassRecord>& oldest_first) {
  json::array a;
  for (auto p = oldest_first.rbegin(); p != oldest_first.rend(); ++p) {
    json::object po{{"time", p->time},     {"direction", p->direction}, {"commit", p->commit},
                    {"ok", p->ok},         {"result", p->result},       {"duration_ms", p->duration_s * 1000.0}};
    AddUrl(po, "commit_url", CommitWebUrl(c.provider, s.remote_url, p->commit));
    a.push_back(std::move(po));
  }
  o["passes"] = std::move(a);
}

}  // namespace gitsyncd
