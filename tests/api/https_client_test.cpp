// The provider API's HTTPS client against real TLS servers on loopback: the GitHub API test
// server (test CA), and a CONNECT proxy (tests/support/connect_proxy.py).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "api/https_client.h"
#include "api/io_cancel.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct ClientFixture {
  TempDir dir;
  std::string bare = dir / "repo.git";
  std::unique_ptr<ProviderApiServer> api;
  HeaderList auth{{"Authorization", "Bearer tok"}};
  ClientFixture() {
    InitBareRepo(bare);
    GitClone p(bare, dir / "p");
    p.Write("big.bin", std::string(300000, 'z'));
    p.CommitAndPush("seed");
    api = std::make_unique<ProviderApiServer>("tok", std::map<std::string, std::string>{{"o/r", bare}});
  }
  HttpsClientOptions Options() {
    HttpsClientOptions o;
    o.ca_file = api->ca_file();
    o.proxy_from_environment = false;
    return o;
  }
  std::string Url(const std::string& path) { return api->api_url() + "/repos/o/r/git/" + path; }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(https_client, ClientFixture)

BOOST_AUTO_TEST_CASE(reuses_one_connection_for_many_requests) {
  HttpsClient client(Options());
  for (int i = 0; i < 5; ++i) {
    auto r = client.Get(Url("ref/heads/main"), auth);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
    BOOST_TEST(r->status == 200);
    BOOST_TEST(r->body.find("\"refs/heads/main\"") != std::string::npos);
  }
  BOOST_TEST(client.connections() == 1u);
  BOOST_TEST(client.requests() == 5u);
}

BOOST_AUTO_TEST_CASE(an_untrusted_certificate_is_refused) {
  HttpsClientOptions o = Options();
  o.ca_file.clear();
  HttpsClient client(o);
  auto r = client.Get(Url("ref/heads/main"), auth);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied));
  BOOST_TEST(r.status().message().find("TLS handshake with localhost:") == 0u, r.status().message());
}

BOOST_AUTO_TEST_CASE(downloads_stream_to_disk_with_a_size_cap) {
  HttpsClient client(Options());
  auto tree = client.Get(Url("trees/main"), auth);
  BOOST_REQUIRE(tree.ok());
  std::string sha = tree->body.substr(tree->body.find("\"sha\": \"", tree->body.find("big.bin")) + 8, 40);
  HeaderList raw = auth;
  raw.emplace_back("Accept", "application/vnd.github.raw+json");
  auto ok = client.Download(Url("blobs/" + sha), raw, dir / "out.bin", 1 << 20);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.status().message());
  BOOST_TEST(ok->status == 200);
  BOOST_TEST(ok->body.empty());
  BOOST_TEST(std::filesystem::file_size(dir / "out.bin") == 300000u);
  auto capped = client.Download(Url("blobs/" + sha), raw, dir / "out2.bin", 1000);
  BOOST_REQUIRE(!capped.ok());
  BOOST_TEST(capped.status().message().find("larger than allowed") != std::string::npos, capped.status().message());
}

BOOST_AUTO_TEST_CASE(https_proxy_is_used_through_connect_and_no_proxy_bypasses_it) {
  int port = FreePort();
  std::string log = dir / "proxy.log";
  ChildProcess proxy({"python3", RequiredEnv("GITSYNCD_TEST_DATA") + "/support/connect_proxy.py", "--port",
                      std::to_string(port), "--log", log, "--auth", "u:p"},
                     dir / "proxy.out");
  WaitForPort(port, "CONNECT proxy", dir / "proxy.out");
  HttpsClientOptions o = Options();
  o.https_proxy = "http://u:p@127.0.0.1:" + std::to_string(port);
  HttpsClient client(o);
  auto r = client.Get(Url("ref/heads/main"), auth);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(ReadFile(log).find("localhost:") == 0u);

  o.https_proxy = "http://wrong:creds@127.0.0.1:" + std::to_string(port);
  HttpsClient refused(o);
  auto denied = refused.Get(Url("ref/heads/main"), auth);
  BOOST_REQUIRE(!denied.ok());
  BOOST_TEST(denied.status().message().find("refused CONNECT") != std::string::npos, denied.status().message());

  std::filesystem::remove(log);
  o.no_proxy = "example.com, localhost";
  HttpsClient bypass(o);
  BOOST_TEST(bypass.Get(Url("ref/heads/main"), auth).ok());
  BOOST_TEST(!FileExists(log));
}

// The daemon stopping while a provider API never answers: the request fails at once, not
// after its 30 s timeout.
BOOST_AUTO_TEST_CASE(a_cancelled_request_to_a_silent_server_fails_at_once) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(listener, 8) == 0);  // accepted by the kernel, never answered
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  auto token = std::make_shared<IoCancel>();
  ScopedIoCancel scope(token);
  std::thread stopper([token] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    token->Cancel();
  });
  HttpsClient client(Options());  // 30 s per step
  auto start = std::chrono::steady_clock::now();
  auto r = client.Get("https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/api/v3/user", auth);
  auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  ::close(listener);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("cancelled: gitsyncd is stopping or reloading") != std::string::npos,
             r.status().message());
  BOOST_TEST((took < std::chrono::seconds(5)));
  // A cancelled token refuses new requests too.
  auto again = client.Get(Url("ref/heads/main"), auth);
  BOOST_TEST(!again.ok());
}

// The proxy URL carries the proxy's user and password; no failure may echo them.
BOOST_AUTO_TEST_CASE(proxy_credentials_never_appear_in_errors) {
  const std::string secret = "Pr0xyS3cret";
  int down = FreePort();  // nobody listens there
  HttpsClientOptions o = Options();
  o.timeout = std::chrono::milliseconds(2000);
  for (std::string proxy : {"https://user:" + secret + "@127.0.0.1:" + std::to_string(down),
                            "user:" + secret + "@127.0.0.1:" + std::to_string(down),
                            "http://user:" + secret + "@127.0.0.1:" + std::to_string(down)}) {
    o.https_proxy = proxy;
    HttpsClient client(o);
    auto r = client.Get(Url("ref/heads/main"), auth);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.status().message().find(secret) == std::string::npos, r.status().message());
  }
  o.https_proxy = "https://user:" + secret + "@127.0.0.1:1";
  auto wrong = HttpsClient(o).Get(Url("ref/heads/main"), auth);
  BOOST_TEST(wrong.status().message().find("https_proxy must be http://[user:password@]host:port") == 0u,
             wrong.status().message());
}

BOOST_AUTO_TEST_SUITE_END()
