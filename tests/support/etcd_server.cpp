#include "tests/support/etcd_server.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "tests/support/wait_for.h"

namespace gitsyncd::testing {

EtcdCluster::EtcdCluster(int members) {
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.client_port = FreePort();
    m.peer_port = FreePort();
    members_.push_back(std::move(m));
  }
  for (int i = 0; i < members; ++i) Launch(i, true);
  for (int i = 0; i < members; ++i) WaitForPort(members_[i].client_port, "etcd " + members_[i].name, dir_ / (members_[i].name + ".log"));
  // The cluster answers once it has a leader.
  if (!Healthy(0)) throw std::runtime_error("etcd did not become healthy:\n" + Log(0));
}

EtcdCluster::~EtcdCluster() = default;

void EtcdCluster::Launch(int i, bool fresh) {
  std::string initial;
  for (const auto& m : members_) {
    initial += (initial.empty() ? "" : ",") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
  }
  const Member& m = members_[i];
  std::string client = "http://127.0.0.1:" + std::to_string(m.client_port);
  std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  members_[i].process = ChildProcess(
      {"etcd", "--name", m.name, "--data-dir", dir_ / (m.name + ".data"), "--listen-client-urls", client,
       "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
       "--initial-cluster", initial, "--initial-cluster-state", fresh ? "new" : "existing",
       "--initial-cluster-token", "gitsyncd-test", "--heartbeat-interval", "50", "--election-timeout", "500",
       "--log-level", "warn", "--logger", "zap", "--enable-v2=false"},
      dir_ / (m.name + ".log"));
}

void EtcdCluster::Stop(int i) { members_[i].process.Stop(); }

void EtcdCluster::Start(int i) {
  Launch(i, false);
  WaitForPort(members_[i].client_port, "etcd " + members_[i].name, dir_ / (members_[i].name + ".log"));
}

bool EtcdCluster::Healthy(int i) const {
  return WaitFor([&] { return RunCommand({"etcdctl", "--endpoints", endpoint(i), "endpoint", "health"}, {}).exit_code == 0; },
                 std::chrono::seconds(20));
}

std::string EtcdCluster::endpoint(int i) const { return "http://127.0.0.1:" + std::to_string(members_[i].client_port); }

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < members_.size(); ++i) out.push_back(endpoint(static_cast<int>(i)));
  return out;
}

std::string EtcdCluster::endpoints_yaml() const {
  std::string out;
  for (const auto& e : endpoints()) out += (out.empty() ? "[" : ", ") + e;
  return out + "]";
}

std::string EtcdCluster::Log(int i) const {
  try {
    return ReadFile(dir_ / (members_[i].name + ".log"));
  } catch (...) {
    return "";
  }
}

std::string EtcdCluster::GetPrefix(const std::string& key) const {
  auto r = RunCommand({"etcdctl", "--endpoints", endpoint(0), "get", "--prefix", key}, {});
  return r.exit_code == 0 ? r.out : "";
}

double EtcdCluster::Metric(int i, const std::string& name) const {
  auto r = RunCommand({"curl", "-s", "--max-time", "5", endpoint(i) + "/metrics"}, {});
  if (r.exit_code != 0) return -1;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  }
  return -1;
}

}  // namespace gitsyncd::testing
