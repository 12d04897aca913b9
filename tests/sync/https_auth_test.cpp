// HTTPS credentials (docs/sync.md, "Transport"): once a remote asked for them, they go with the
// first request of every later operation, so a pass pays no 401 round trip; they never reach
// another host, whether a redirect leads there with them already in the request or the other
// host asks for them. Against the nginx + git http-backend server of tests/support/.
#include <boost/test/unit_test.hpp>
#include <sstream>

#include "sync/remote_auth.h"
#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct LogCount {
  int requests = 0;     // requests gitsyncd (libgit2) made
  int challenged = 0;   // of those, answered 401
  int credentials = 0;  // of those, carrying an Authorization header
  int with_credentials_by_anyone = 0;
};

LogCount CountLog(const GitHttpsServer& server) {
  LogCount c;
  std::istringstream in(server.access_log());
  for (std::string line; std::getline(in, line);) {
    bool sent = line.find("\" credentials ") != std::string::npos;
    if (sent) ++c.with_credentials_by_anyone;
    if (line.find("libgit2") == std::string::npos) continue;
    ++c.requests;
    if (line.find("\" 401 ") != std::string::npos) ++c.challenged;
    if (sent) ++c.credentials;
  }
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(https_auth)

BOOST_AUTO_TEST_CASE(many_https_passes_pay_at_most_one_401_because_credentials_go_up_front_once_asked) {
  Binding f(Served::kHttps);
  for (int i = 0; i < 20; ++i) {
    if (i % 2 == 0) f.WriteLocal("file" + std::to_string(i % 3) + ".yaml", "v: " + std::to_string(i) + "\n");
    f.Sync();
  }
  BOOST_TEST(f.Remote("config/file0.yaml") == "v: 18\n");
  LogCount c = CountLog(*f.server);
  BOOST_TEST_MESSAGE(c.requests << " requests, " << c.challenged << " answered 401");
  BOOST_TEST(c.requests >= 40);  // every pass fetched, every other one pushed too
  BOOST_TEST(c.challenged <= 1);
  BOOST_TEST(c.credentials >= c.requests - 1);

  // Credentials that stop working are reported as before, and new ones are taken at once.
  std::string right = f.spec.remote.password;
  f.spec.remote.password = "not-the-password";
  f.WriteLocal("file0.yaml", "v: wrong password\n");
  Status refused = f.SyncStatus();
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.message().find("authentication failed for user 'alice'") != std::string::npos, refused.message());
  f.spec.remote.password = right;
  f.Sync();
  BOOST_TEST(f.Remote("config/file0.yaml") == "v: wrong password\n");
}

BOOST_AUTO_TEST_CASE(credentials_never_reach_another_host_a_remote_redirects_to) {
  Binding f(Served::kHttps);
  GitHttpsServer other;  // another host:port, with a certificate the binding trusts as well
  other.CreateBareRepo("cfg");
  std::string both_cas = f.dir / "both-cas.pem";
  WriteFile(both_cas, ReadFile(f.server->ca_file()) + ReadFile(other.ca_file()));
  BOOST_REQUIRE(ConfigureTls(both_cas).ok());
  f.WriteLocal("a.yaml", "a: 1\n");
  f.Sync();
  f.WriteLocal("a.yaml", "a: 2\n");
  f.Sync();  // credentials now go up front
  BOOST_REQUIRE(CountLog(*f.server).credentials > 0);

  f.server->RedirectRepo("cfg", other.url("cfg"));
  std::string other_origin = "localhost:" + std::to_string(other.port());
  for (int pass = 0; pass < 3; ++pass) {
    f.WriteLocal("a.yaml", "a: redirected " + std::to_string(pass) + "\n");
    Status s = f.SyncStatus();
    BOOST_TEST(!s.ok(), "pass " << pass << " went through the redirect");
    BOOST_TEST(s.message().find(other_origin) != std::string::npos, s.message());
  }
  LogCount at_other = CountLog(other);
  BOOST_TEST(at_other.with_credentials_by_anyone == 0, other.access_log());
  BOOST_TEST(f.Remote("config/a.yaml") == "a: 2\n");
  BOOST_TEST(ShowFile(other.repo_path("cfg"), "main", "config/a.yaml").empty());
  BOOST_REQUIRE(ConfigureTls(f.server->ca_file()).ok());
}

BOOST_AUTO_TEST_SUITE_END()
