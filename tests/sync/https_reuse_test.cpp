// HTTPS connection and TLS session reuse (docs/sync.md, "Transport"), seen from the real nginx
// server of tests/support/, whose access log records per request the TCP connection, the
// request's number on it and whether the TLS session was resumed ("r") or fully negotiated (".").
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <sstream>
#include <vector>

#include "sync/remote_auth.h"
#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct Request {
  std::string connection;
  int on_connection = 0;  // 1 for a connection's first request
  bool resumed = false;
};

// The requests gitsyncd (libgit2) made, in log order, from line `from` on.
std::vector<Request> Requests(const GitHttpsServer& server, size_t from = 0) {
  std::vector<Request> out;
  std::istringstream in(server.access_log());
  size_t n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    if (n < from || line.find("libgit2") == std::string::npos) continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    BOOST_REQUIRE_MESSAGE(w.size() >= 4, line);
    out.push_back({w[w.size() - 4], std::stoi(w[w.size() - 3]), w[w.size() - 2] == "r"});
  }
  return out;
}

size_t LogLines(const GitHttpsServer& server) {
  std::string log = server.access_log();
  return static_cast<size_t>(std::count(log.begin(), log.end(), '\n'));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(https_reuse)

BOOST_AUTO_TEST_CASE(passes_after_the_first_resume_the_tls_session_instead_of_a_full_handshake) {
  Binding f(Served::kHttps);
  f.WriteLocal("a.yaml", "v: 0\n");
  f.Sync();
  std::vector<Request> first = Requests(*f.server);
  BOOST_REQUIRE(!first.empty());
  BOOST_TEST(!first.front().resumed, "the very first connection has no session to resume");
  size_t mark = LogLines(*f.server);

  for (int i = 1; i <= 6; ++i) {
    if (i % 2 == 0) f.WriteLocal("a.yaml", "v: " + std::to_string(i) + "\n");
    f.Sync();
  }
  BOOST_TEST(f.Remote("config/a.yaml") == "v: 6\n");
  std::vector<Request> later = Requests(*f.server, mark);
  int connections = 0, resumed = 0;
  for (const Request& r : later) {
    if (r.on_connection != 1) continue;
    ++connections;
    if (r.resumed) ++resumed;
  }
  BOOST_TEST(connections >= 6);  // one per fetch at least
  BOOST_TEST(resumed == connections, f.server->access_log());
}

BOOST_AUTO_TEST_CASE(the_requests_of_one_fetch_share_one_keep_alive_connection) {
  Binding f(Served::kHttps);
  f.WriteLocal("a.yaml", "v: 0\n");
  f.Sync();
  f.person->Pull();
  f.person->Write("config/new.yaml", "from: person\n");
  BOOST_REQUIRE(f.person->CommitAndPush("person edits"));
  // The fetch's upload-pack POST rides on the connection of its ref advertisement.
  size_t mark = LogLines(*f.server);
  f.Sync();
  std::vector<Request> pass = Requests(*f.server, mark);
  BOOST_REQUIRE(pass.size() >= 2);
  BOOST_TEST(f.Local("new.yaml") == "from: person\n");
  bool reused_connection = false;
  for (const Request& r : pass) reused_connection = reused_connection || r.on_connection > 1;
  BOOST_TEST(reused_connection, f.server->access_log());
}

BOOST_AUTO_TEST_CASE(a_session_is_never_resumed_under_another_ca_setup) {
  Binding f(Served::kHttps);
  f.Sync();
  f.Sync();
  BOOST_REQUIRE(Requests(*f.server).back().resumed);

  // Trust changes to a CA that did not sign the server: the cached session, made when the server's
  // certificate verified, must not let the next connection skip verification.
  TempDir other;
  std::string other_ca = MakeTestCertificates(other.path());
  BOOST_REQUIRE(ConfigureTls(other_ca).ok());
  f.WriteLocal("b.yaml", "v: 1\n");
  Status refused = f.SyncStatus();
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.message().find("certificate") != std::string::npos, refused.message());
  BOOST_TEST(!f.RemoteHas("config/b.yaml"));

  // Back to the right CA: a fresh handshake, then resumption again.
  BOOST_REQUIRE(ConfigureTls(f.server->ca_file()).ok());
  size_t mark = LogLines(*f.server);
  f.Sync();
  std::vector<Request> after = Requests(*f.server, mark);
  BOOST_REQUIRE(!after.empty());
  BOOST_TEST(!after.front().resumed, f.server->access_log());
  BOOST_TEST(f.Remote("config/b.yaml") == "v: 1\n");
}

BOOST_AUTO_TEST_SUITE_END()
