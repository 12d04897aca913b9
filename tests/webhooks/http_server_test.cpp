// The listener over real sockets on loopback: keep-alive, limits and deadlines as a hostile
// or broken client would meet them, and TLS with a certificate made for the test.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "webhooks/http_server.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct Server {
  std::unique_ptr<HttpServer> server;
  std::atomic<int> handled{0};

  explicit Server(HttpServerOptions o = {}) {
    auto s = HttpServer::Start(o, [this](const HttpRequest& r) {
      ++handled;
      if (r.target == "/throw") throw std::runtime_error("boom");
      HttpResponse res;
      res.body = r.method + " " + r.target + " " + std::to_string(r.body.size()) + " " + r.Header("x-test") +
                 (r.from_loopback ? " loopback" : "");
      return res;
    });
    BOOST_REQUIRE_MESSAGE(s.ok(), s.status().message());
    server = std::move(s).value();
  }
  int port() const { return server->port(); }
};

HttpServerOptions Small() {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  o.max_connections = 4;
  o.read_timeout = 1s;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(serves_requests_with_keep_alive) {
  Server s;
  BOOST_TEST(s.port() > 0);
  HttpConnection c(s.port());
  c.Send(BuildRequest("POST", "/a", {{"X-Test", "one"}}, "hello", true));
  HttpReply r1 = c.Read();
  BOOST_TEST(r1.status == 200);
  BOOST_TEST(r1.body == "POST /a 5 one loopback");
  c.Send(BuildRequest("GET", "/b", {}, "", true));
  HttpReply r2 = c.Read();
  BOOST_TEST(r2.status == 200);
  BOOST_TEST(r2.body == "GET /b 0  loopback");
  BOOST_TEST(s.server->stats().connections_accepted == 1u);
  BOOST_TEST(s.server->stats().requests == 2u);
}

BOOST_AUTO_TEST_CASE(oversized_body_gets_413_and_nothing_is_handled) {
  Server s(Small());
  HttpReply r = HttpExchange(s.port(), BuildRequest("POST", "/big", {}, std::string(1025, 'x')));
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.body.find("body larger than 1024 bytes") != std::string::npos);
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("POST", "/ok", {}, std::string(1024, 'x'))).status == 200);
  // A declared length far beyond the limit is refused before any body byte is read.
  HttpReply declared = HttpExchange(s.port(), "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n");
  BOOST_TEST(declared.status == 413);
  BOOST_TEST(s.handled == 1);
}

BOOST_AUTO_TEST_CASE(huge_headers_get_431_and_garbage_gets_400) {
  Server s(Small());
  HttpReply r = HttpExchange(s.port(), BuildRequest("GET", "/", {{"X-Fill", std::string(20000, 'a')}}, ""));
  BOOST_TEST(r.status == 431);
  HttpReply bad = HttpExchange(s.port(), "NOT HTTP AT ALL\r\n\r\n");
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(s.handled == 0);
}

BOOST_AUTO_TEST_CASE(a_trickling_client_is_cut_off_at_the_read_timeout) {
  Server s(Small());
  HttpConnection slow(s.port());
  auto start = std::chrono::steady_clock::now();
  std::string request = BuildRequest("POST", "/slow", {}, "body");
  bool cut = false;
  for (char ch : request) {
    if (!slow.Send(std::string(1, ch))) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(200ms);
    if (std::chrono::steady_clock::now() - start > 5s) break;
  }
  cut = cut || slow.WaitClosed(2000);
  BOOST_TEST(cut);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 4s));
  BOOST_TEST(s.handled == 0);
  BOOST_TEST(s.server->stats().timeouts >= 1u);
  // An idle keep-alive connection is closed too.
  HttpConnection idle(s.port());
  BOOST_TEST(idle.WaitClosed(3000));
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_cap_are_closed_at_once) {
  Server s(Small());
  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<HttpConnection>(s.port()));
  std::this_thread::sleep_for(200ms);
  HttpConnection extra(s.port());
  BOOST_TEST(extra.WaitClosed(500));
  BOOST_TEST(s.server->stats().connections_refused >= 1u);
  held.clear();
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/after", {}, "")).status == 200);
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_gives_500_and_the_server_goes_on) {
  Server s;
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/throw", {}, "")).status == 500);
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/fine", {}, "")).status == 200);
}

BOOST_AUTO_TEST_CASE(a_busy_port_is_a_clear_error) {
  Server s;
  HttpServerOptions o;
  o.port = static_cast<uint16_t>(s.port());
  auto second = HttpServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; });
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.status().message() ==
             "cannot listen on 127.0.0.1:" + std::to_string(s.port()) + ": Address already in use");
  o.address = "not-an-ip";
  BOOST_TEST(HttpServer::Start(o, [](const HttpRequest&) { return HttpResponse{}; }).status().message() ==
             "listen.address 'not-an-ip' is not an IP address");
}

BOOST_AUTO_TEST_CASE(tls_listener_with_a_test_certificate) {
  TempDir dir;
  CommandResult gen = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                  "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                                  "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", dir / "key.pem", "-out",
                                  dir / "cert.pem"});
  BOOST_REQUIRE_MESSAGE(gen.exit_code == 0, gen.err);
  HttpServerOptions o;
  o.tls_cert = dir / "cert.pem";
  o.tls_key = dir / "key.pem";
  Server s(o);
  std::string url = "https://localhost:" + std::to_string(s.port()) + "/tls";
  CommandResult ok = RunCommand({"curl", "-sS", "--cacert", dir / "cert.pem", "-H", "X-Test: t", "-d", "abc", url});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  BOOST_TEST(ok.out == "POST /tls 3 t loopback");
  // A client that does not trust the certificate gets nothing.
  CommandResult untrusted = RunCommand({"curl", "-sS", url});
  BOOST_TEST(untrusted.exit_code != 0);
  HttpServerOptions broken;
  broken.tls_cert = dir / "missing.pem";
  broken.tls_key = dir / "key.pem";
  auto b = HttpServer::Start(broken, [](const HttpRequest&) { return HttpResponse{}; });
  BOOST_REQUIRE(!b.ok());
  BOOST_TEST(b.status().message().find("listen TLS: cannot load tls_cert " + (dir / "missing.pem")) == 0u);
}
