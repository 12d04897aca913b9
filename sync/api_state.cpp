#include "sync/api_state.h"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

#include "sync/binding_state.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

constexpr const char* kFile = "api-head.json";
// Enough for every commit a pass can still refer to (the last synced one, the snapshot, a
// merge and its local side) with room to spare.
constexpr size_t kMaxKnown = 256;

std::string StrOf(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::string ApiState::RemoteOf(const std::string& local) const {
  for (auto it = known.rbegin(); it != known.rend(); ++it) {
    if (it->first == local) return it->second;
  }
  return local == snapshot ? remote_commit : std::string();
}

void ApiState::Remember(const std::string& local, const std::string& remote) {
  if (local.empty() || remote.empty()) return;
  for (auto it = known.begin(); it != known.end(); ++it) {
    if (it->first == local) {
      known.erase(it);
      break;
    }
  }
  known.emplace_back(local, remote);
  if (known.size() > kMaxKnown) known.erase(known.begin(), known.begin() + (known.size() - kMaxKnown));
}

void ApiState::SetHead(const std::string& local, const std::string& remote) {
  snapshot = local;
  remote_commit = remote;
  Remember(local, remote);
}

ApiState LoadApiState(const std::string& binding_dir) {
  std::ifstream in(binding_dir + "/" + kFile);
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  ApiState s;
  if (ec || !v.is_object()) return s;
  const json::object& o = v.as_object();
  s.remote_commit = StrOf(o, "remote_commit");
  s.snapshot = StrOf(o, "snapshot");
  if (auto* k = o.if_contains("known"); k && k->is_array()) {
    for (const json::value& e : k->as_array()) {
      if (!e.is_object()) continue;
      std::string local = StrOf(e.as_object(), "local"), remote = StrOf(e.as_object(), "remote");
      if (!local.empty() && !remote.empty()) s.known.emplace_back(local, remote);
    }
  }
  return s;
}

Status SaveApiState(const std::string& binding_dir, const ApiState& s) {
  json::array known;
  for (const auto& [local, remote] : s.known) known.push_back(json::object{{"local", local}, {"remote", remote}});
  json::object o{{"remote_commit", s.remote_commit}, {"snapshot", s.snapshot}, {"known", std::move(known)}};
  return WriteStateFile(binding_dir, kFile, json::serialize(o) + "\n");
}

}  // namespace gitsyncd
