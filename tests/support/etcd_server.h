// A real etcd 3.4 cluster for tests (Debian's etcd-server): `members` processes on 127.0.0.1,
// each with free client and peer ports and its own data folder, stopped at scope end.
#pragma once

#include <string>
#include <vector>

#include "tests/support/git_servers.h"
#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 1);
  ~EtcdCluster();
  // "http://127.0.0.1:<client port>" of member i.
  std::string endpoint(int i) const;
  std::vector<std::string> endpoints() const;
  // YAML flow list of every endpoint: "[http://127.0.0.1:1, ...]".
  std::string endpoints_yaml() const;
  void Stop(int i);   // SIGTERM, as a member restart or an outage
  void Start(int i);  // the same member again, same ports and data (waits until it answers)
  // Member i answers `etcdctl endpoint health` (it has a leader) within 20 s.
  bool Healthy(int i) const;
  std::string Log(int i) const;
  // `etcdctl get --prefix KEY` against member 0: "key\nvalue\n..." (empty on failure).
  std::string GetPrefix(const std::string& key) const;
  // The value of an unlabelled metric of member i's /metrics (-1 when it cannot be read).
  double Metric(int i, const std::string& name) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0, peer_port = 0;
    ChildProcess process;
  };
  void Launch(int i, bool fresh);
  TempDir dir_;
  std::vector<Member> members_;
};

}  // namespace gitsyncd::testing
