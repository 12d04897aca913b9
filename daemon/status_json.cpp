#include "daemon/status_json.h"

namespace gitsyncd {

namespace json = boost::json;

json::object BindingStatusJson(const ConnectorConfig& c, const SyncBinding& s, const Result<BindingState>& st) {
  json::object o{{"name", s.name}, {"connector", c.name}, {"remote", s.remote_url}, {"branch", s.branch},
                 {"path", s.path}, {"local", s.local}, {"direction", std::string(SyncDirectionName(s.direction))}};
  if (!st.ok()) {
    o["state_error"] = st.status().message();
    return o;
  }
  o["last_synced_commit"] = st->last_synced_commit;
  o["last_success_time"] = st->last_success_time;
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
    conflicts.push_back(json::object{{"branch", k.branch}, {"time", k.time}, {"policy", k.policy},
                                     {"files", std::move(files)}, {"resolved", k.resolved},
                                     {"resolved_time", k.resolved_time}, {"local_commit", k.local_commit},
                                     {"remote_commit", k.remote_commit}});
  }
  o["conflicts"] = std::move(conflicts);
  json::array hooks;
  for (const auto& h : st->hooks) {
    hooks.push_back(json::object{{"hook", h.hook}, {"time", h.time}, {"commit", h.commit}, {"ok", h.ok}, {"result", h.result}});
  }
  o["hooks"] = std::move(hooks);
  return o;
}

}  // namespace gitsyncd
