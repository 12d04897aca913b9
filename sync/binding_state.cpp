#include "sync/binding_state.h"

#include <fcntl.h>
#include <stdio.h>  // rename
#include <unistd.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kFile = "state.json";
// state.json's layout version. 0 is the layout before the field existed (same keys); a reader
// takes every version up to its own and refuses a newer one rather than drop fields it does
// not know.
// 2 added paused, paused_time, hooks and each conflict's local_commit, remote_commit, resolved_time.
constexpr uint64_t kStateFormat = 2;

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

uint64_t Num(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return 0;
}

std::vector<std::string> Strings(const json::object& o, const char* key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

bool Bool(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

std::string NowIso8601() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> ParseIso8601(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

Result<BindingState> LoadBindingState(const std::string& binding_dir) {
  std::string path = binding_dir + "/" + kFile;
  std::ifstream in(path);
  if (!in) return BindingState{};
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    return Status::Corrupted("sync state " + path + " is not valid JSON (" + ec.message() +
                             "); move it away to start this binding afresh");
  }
  const json::object& o = v.as_object();
  if (uint64_t format = Num(o, "format"); format > kStateFormat) {
    return Status::Corrupted("sync state " + path + " has format " + std::to_string(format) +
                             ", written by a newer gitsyncd (this one reads up to format " +
                             std::to_string(kStateFormat) + "); run the newer version");
  }
  BindingState s;
  s.last_synced_commit = Str(o, "last_synced_commit");
  s.last_success_time = Str(o, "last_success_time");
  s.last_error = Str(o, "last_error");
  s.last_error_time = Str(o, "last_error_time");
  s.consecutive_failures = static_cast<uint32_t>(Num(o, "consecutive_failures"));
  s.pending_local_changes = static_cast<uint32_t>(Num(o, "pending_local_changes"));
  s.passes = Num(o, "passes");
  s.warnings = Strings(o, "warnings");
  s.pending_commit = Str(o, "pending_commit");
  s.pending_local_tree = Str(o, "pending_local_tree");
  s.branch_gone = Bool(o, "branch_gone");
  s.paused = Bool(o, "paused");
  s.paused_time = Str(o, "paused_time");
  if (auto* c = o.if_contains("conflicts"); c != nullptr && c->is_array()) {
    for (const auto& e : c->as_array()) {
      if (!e.is_object()) continue;
      const auto& co = e.as_object();
      ConflictRecord r{Str(co, "branch"), Str(co, "time"), Str(co, "policy"), Strings(co, "files"),
                       Bool(co, "resolved"), Str(co, "commit"), Str(co, "local_commit"), Str(co, "remote_commit"),
                       Str(co, "resolved_time")};
      s.conflicts.push_back(std::move(r));
    }
  }
  if (auto* h = o.if_contains("hooks"); h != nullptr && h->is_array()) {
    for (const auto& e : h->as_array()) {
      if (!e.is_object()) continue;
      const auto& ho = e.as_object();
      s.hooks.push_back({Str(ho, "hook"), Str(ho, "time"), Str(ho, "commit"), Bool(ho, "ok"), Str(ho, "result")});
    }
  }
  if (auto* r = o.if_contains("refused"); r != nullptr && r->is_object()) {
    const auto& ro = r->as_object();
    s.refused = {Str(ro, "commit"), Str(ro, "kind"), Str(ro, "file"), static_cast<int>(std::min<uint64_t>(Num(ro, "line"), 1u << 30))};
  }
  return s;
}

Status SaveBindingState(const std::string& binding_dir, const BindingState& s) {
  json::object o;
  o["format"] = kStateFormat;
  o["last_synced_commit"] = s.last_synced_commit;
  o["last_success_time"] = s.last_success_time;
  o["last_error"] = s.last_error;
  o["last_error_time"] = s.last_error_time;
  o["consecutive_failures"] = s.consecutive_failures;
  o["pending_local_changes"] = s.pending_local_changes;
  o["passes"] = s.passes;
  o["warnings"] = ToArray(s.warnings);
  o["pending_commit"] = s.pending_commit;
  o["pending_local_tree"] = s.pending_local_tree;
  o["branch_gone"] = s.branch_gone;
  o["paused"] = s.paused;
  o["paused_time"] = s.paused_time;
  json::array conflicts;
  for (const auto& c : s.conflicts) {
    json::object co{{"branch", c.branch},
                    {"time", c.time},
                    {"policy", c.policy},
                    {"files", ToArray(c.files)},
                    {"resolved", c.resolved},
                    {"local_commit", c.local_commit},
                    {"remote_commit", c.remote_commit},
                    {"resolved_time", c.resolved_time}};
    if (!c.commit.empty()) co["commit"] = c.commit;
    conflicts.emplace_back(std::move(co));
  }
  o["conflicts"] = std::move(conflicts);
  json::array hooks;
  for (const auto& h : s.hooks) {
    hooks.emplace_back(json::object{{"hook", h.hook}, {"time", h.time}, {"commit", h.commit}, {"ok", h.ok}, {"result", h.result}});
  }
  o["hooks"] = std::move(hooks);
  if (!s.refused.commit.empty()) {
    o["refused"] = json::object{{"commit", s.refused.commit},
                                {"kind", s.refused.kind},
                                {"file", s.refused.file},
                                {"line", s.refused.line}};
  }
  return WriteStateFile(binding_dir, kFile, json::serialize(o) + "\n");
}

Status SaveBindingStateAfterPass(const std::string& binding_dir, const BindingState& before, const BindingState& after) {
  constexpr int64_t kRefreshAfterS = 60;
  BindingState counters_aside = after;
  counters_aside.passes = before.passes;
  counters_aside.last_success_time = before.last_success_time;
  std::optional<int64_t> saved_at = ParseIso8601(before.last_success_time);
  std::optional<int64_t> now = ParseIso8601(after.last_success_time);
  bool recent = saved_at && now && *now >= *saved_at && *now - *saved_at < kRefreshAfterS;
  if (recent && counters_aside == before) return Status::Ok();
  return SaveBindingState(binding_dir, after);
}

Status WriteStateFile(const std::string& binding_dir, const std::string& name, const std::string& data) {
  std::error_code ec;
  fs::create_directories(binding_dir, ec);
  std::string path = binding_dir + "/" + name;
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Status::IoError("cannot save " + path + ": " + std::strerror(errno));
  // A plain rename, not an exchange that would keep the old inode as the next temp file: that
  // spare saved an inode creation per write (about a millisecond on a busy ext4) but cost every
  // binding a 4 KiB block at rest (docs/sync.md, "What a binding costs on disk"). A spare an
  // earlier version left is reused by the O_TRUNC above and renamed away.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot save " + path + ": " + std::strerror(errno));
  }
  int dfd = ::open(binding_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace gitsyncd
