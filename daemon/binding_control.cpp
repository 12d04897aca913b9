#include "daemon/binding_control.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "daemon/instance_lock.h"
#include "sync/conflicts.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

std::string Answer(const std::string& binding, const Status& s, json::object extra = {}) {
  extra["binding"] = binding;
  extra["ok"] = s.ok();
  if (!s.ok()) extra["error"] = s.message();
  return json::serialize(extra);
}

// "WORD ARG1 ARG2 ..." split on single spaces (names never hold spaces).
std::vector<std::string> Words(const std::string& request) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= request.size()) {
    size_t end = request.find(' ', start);
    if (end == std::string::npos) end = request.size();
    out.push_back(request.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Run as root, a file the CLI created in the state directory gets the directory's owner: the
// daemon runs as its own user and must go on writing it.
Status KeepOwner(const std::string& path, const std::string& state_dir) {
  struct stat dir{};
  if (::geteuid() != 0 || ::stat(state_dir.c_str(), &dir) != 0 || dir.st_uid == 0) return Status::Ok();
  if (::lchown(path.c_str(), dir.st_uid, dir.st_gid) != 0 && errno != ENOENT) {
    return Status::IoError("cannot give " + path + " to the state directory's owner: " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

const SyncBinding* FindSync(const Config& config, const std::string& name, const ConnectorConfig** connector) {
  for (const auto& c : config.connectors) {
    for (const auto& s : c.syncs) {
      if (s.name != name) continue;
      if (connector) *connector = &c;
      return &s;
    }
  }
  return nullptr;
}

Status EditStateOffline(const DaemonConfig& daemon, const BindingSpec& spec, const SyncEngine::StateEdit& edit) {
  const std::string& dir = spec.binding_dir;
  std::string parent = std::filesystem::path(dir).parent_path().string();  // <state_dir>/bindings
  bool fresh_parent = !std::filesystem::exists(parent), fresh = !std::filesystem::exists(dir);
  auto state = LoadBindingState(dir);
  if (!state.ok()) return state.status();
  Status s = edit(spec, *state);
  if (s.ok()) s = SaveBindingState(dir, *state);
  if (s.ok() && fresh_parent) s = KeepOwner(parent, daemon.state_dir);
  if (s.ok() && fresh) s = KeepOwner(dir, daemon.state_dir);
  if (s.ok()) s = KeepOwner(dir + "/state.json", daemon.state_dir);
  // The other name of the file swap (binding_state.cpp keeps both inodes).
  if (s.ok()) s = KeepOwner(dir + "/state.json.tmp", daemon.state_dir);
  return s;
}

// "sync-now-dry-run NAME": what a pass would push and pull (daemon/cmd_sync_now.cpp prints it).
namespace {

std::string DryRunAnswer(SyncEngine& engine, const std::string& name) {
  auto plan = engine.DryRun(name, kSyncNowWait);
  json::object o{{"binding", name}, {"ok", plan.ok()}};
  if (!plan.ok()) {
    o["error"] = plan.status().message();
    return json::serialize(o);
  }
  auto list = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  o["remote_head"] = plan->remote_head;
  o["push"] = list(plan->push);
  o["pull"] = list(plan->pull);
  o["conflicts"] = list(plan->conflicts);
  o["notes"] = list(plan->notes);
  return json::serialize(o);
}

std::string SyncNowAnswer(SyncEngine& engine, const std::string& name) {
  auto r = engine.SyncNow(name, kSyncNowWait);
  json::object o{{"binding", name}, {"ok", r.ok()}};
  if (r.ok()) o["outcome"] = *r;
  else o["error"] = r.status().message();
  return json::serialize(o);
}

std::string EngineStatusAnswer(SyncEngine& engine) {
  json::array a;
  for (const auto& s : engine.Snapshot()) {
    a.push_back(json::object{{"name", s.name}, {"running", s.running}, {"queued", s.queued}, {"passes", s.passes},
                             {"failures", s.failures}, {"paused", s.paused}, {"last_outcome", s.last_outcome},
                             {"last_error", s.last_error}, {"next_retry_in_s", s.next_retry_in_s}});
  }
  return json::serialize(json::object{{"ok", true}, {"bindings", std::move(a)}});
}

}  // namespace

std::string HandleBindingControl(SyncEngine& engine, const std::string& request) {
  if (request == "status") return EngineStatusAnswer(engine);
  if (request.rfind("sync-now-dry-run ", 0) == 0) return DryRunAnswer(engine, request.substr(17));
  if (request.rfind("sync-now ", 0) == 0) return SyncNowAnswer(engine, request.substr(9));
  std::vector<std::string> w = Words(request);
  if ((w[0] == "pause" || w[0] == "resume") && w.size() == 2) {
    bool paused = w[0] == "pause";
    Status s = engine.SetPaused(w[1], paused, kStateChangeWait);
    return Answer(w[1], s, {{"paused", paused}});
  }
  if (w[0] == "conflicts-resolve" && (w.size() == 3 || (w.size() == 4 && w[3] == "--delete-branch"))) {
    bool delete_branch = w.size() == 4;
    Status s = engine.EditState(
        w[1], [&](const BindingSpec& spec, BindingState& st) { return ResolveConflict(spec, &st, w[2], delete_branch); },
        kStateChangeWait);
    return Answer(w[1], s, {{"branch", w[2]}, {"deleted", s.ok() && delete_branch}});
  }
  return {};
}

Result<json::object> AskDaemonOrOffline(const DaemonConfig& daemon, const std::string& request,
                                        const std::function<Result<json::object>()>& offline) {
  auto reply = ControlRequest(ControlSocketPath(daemon.state_dir), request, kStateChangeWait + std::chrono::seconds(5));
  if (!reply.ok()) {
    if (!offline || reply.status().code() != Status::Code::kUnavailable) return reply.status();
    // No answer: either no daemon runs (then the lock is free and the change is made here,
    // with no daemon to race), or one runs and did not answer (its error is the answer).
    std::error_code ec;
    if (!std::filesystem::is_directory(daemon.state_dir, ec)) return offline();
    bool had_lock_file = std::filesystem::exists(daemon.state_dir + "/gitsyncd.lock", ec);
    auto lock = InstanceLock::Acquire(daemon.state_dir);
    if (!lock.ok()) return reply.status();
    if (!had_lock_file) {
      Status owned = KeepOwner(daemon.state_dir + "/gitsyncd.lock", daemon.state_dir);
      if (!owned.ok()) return owned;
    }
    return offline();
  }
  json::error_code ec;
  json::value v = json::parse(*reply, ec);
  if (ec || !v.is_object() || !v.as_object().contains("ok")) {
    return Status::Internal("unexpected answer from the daemon: " + *reply);
  }
  json::object o = v.as_object();
  if (!o.at("ok").as_bool()) {
    const json::value* e = o.if_contains("error");
    return Status::InvalidArgument(e && e->is_string() ? std::string(e->as_string()) : *reply);
  }
  return o;
}

}  // namespace gitsyncd
