// The listener over real sockets on loopback: keep-alive, limits and deadlines as a hostile
// or broken client would meet them, and TLS with a certificate made for the test.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/log_capture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"
#include "webhooks/http_server.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct Server {
  std::unique_ptr<HttpServer> server;
  std::atomic<int> handled{0};
  std::atomic<int> checked{0};

  explicit Server(HttpServerOptions o = {}, HttpServer::HeaderCheck check = nullptr) {
    auto s = HttpServer::Start(o, [this](const HttpRequest& r) {
      ++handled;
      if (r.target.rfind("/throw", 0) == 0) throw std::runtime_error("boom");
      HttpResponse res;
      res.body = r.method + " " + r.target + " " + std::to_string(r.body.size()) + " " + r.Header("x-test") +
                 (r.from_loopback ? " loopback" : "");
      return res;
    }, check ? HttpServer::HeaderCheck([this, check](const HttpRequest& r) {
      ++checked;
      return check(r);
    }) : nullptr);
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
  o.header_timeout = 1s;
  return o;
}

// A check like the webhook listener's: "/secret/..." is trusted, "/deny" answered at once,
// anything else read as an untrusted request.
HeaderVerdict SecretPathCheck(const HttpRequest& r) {
  HeaderVerdict v;
  if (r.target.rfind("/secret/", 0) == 0) v.trusted = true;
  if (r.target == "/deny") {
    HttpResponse res;
    res.status = 401;
    res.body = "denied with " + std::to_string(r.body.size()) + " body bytes read";
    v.answer = res;
  }
  return v;
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

BOOST_AUTO_TEST_CASE(a_header_check_answers_before_any_body_byte_is_read) {
  Server s({}, SecretPathCheck);
  // 5 MiB declared, not one body byte sent: the answer comes at once, and the connection closes.
  HttpConnection c(s.port());
  c.Send("POST /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 5242880\r\n\r\n");
  HttpReply r = c.Read(2000);
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.body == "denied with 0 body bytes read");
  BOOST_TEST(r.closed);
  BOOST_TEST(c.WaitClosed(3000));
  BOOST_TEST(s.handled == 0);
  // A client already sending its body still reads the answer (the rest is drained, not reset).
  HttpConnection eager(s.port());
  eager.Send("POST /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 5242880\r\n\r\n" + std::string(200000, 'x'));
  BOOST_TEST(eager.Read(2000).status == 401);
  // A trusted request may use max_body_bytes; an untrusted one only untrusted_body_bytes.
  HttpReply ok = HttpExchange(s.port(), BuildRequest("POST", "/secret/a", {}, std::string(100000, 'b')));
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body == "POST /secret/a 100000  loopback");
  HttpReply small = HttpExchange(s.port(), BuildRequest("POST", "/other", {}, std::string(1000, 'b')));
  BOOST_TEST(small.status == 200);
  HttpReply big = HttpExchange(s.port(), "POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n");
  BOOST_TEST(big.status == 413);
  BOOST_TEST(big.body.find("body larger than 16384 bytes") != std::string::npos, big.body);
  HttpReply chunked = HttpExchange(s.port(), "POST /other HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             "8000\r\n" + std::string(0x8000, 'c') + "\r\n0\r\n\r\n");
  BOOST_TEST(chunked.status == 413);
  BOOST_TEST(s.handled == 2);
  BOOST_TEST(s.checked == 6);
}

BOOST_AUTO_TEST_CASE(headers_must_arrive_within_the_header_timeout_not_the_idle_timeout) {
  HttpServerOptions o;
  o.header_timeout = 1s;
  o.read_timeout = 10s;
  Server s(o);
  // A partial request line and then nothing: closed after header_timeout, not read_timeout.
  auto start = std::chrono::steady_clock::now();
  HttpConnection partial(s.port());
  partial.Send("POST /webhooks/x HTTP/1.1\r\nHost: h\r\n");
  BOOST_TEST(partial.WaitClosed(5000));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
  // A connection that sends nothing at all likewise.
  HttpConnection silent(s.port());
  BOOST_TEST(silent.WaitClosed(5000));
  // Between keep-alive requests the idle timeout applies: still open after 2 s.
  HttpConnection keep(s.port());
  keep.Send(BuildRequest("GET", "/one", {}, "", true));
  BOOST_TEST(keep.Read().status == 200);
  BOOST_TEST(!keep.WaitClosed(2000));
  keep.Send(BuildRequest("GET", "/two", {}, "", true));
  BOOST_TEST(keep.Read().status == 200);
  // ...but once the next request starts, its headers have header_timeout again.
  auto again = std::chrono::steady_clock::now();
  keep.Send("GET /three HTTP/1.1\r\n");
  BOOST_TEST(keep.WaitClosed(5000));
  BOOST_TEST((std::chrono::steady_clock::now() - again < 3s));
  BOOST_TEST(s.server->stats().timeouts >= 3u);
}

BOOST_AUTO_TEST_CASE(at_the_cap_the_oldest_untrusted_connection_makes_room) {
  HttpServerOptions o = Small();
  o.read_timeout = 10s;
  o.header_timeout = 10s;
  Server s(o, SecretPathCheck);
  // One connection proves its secret (keep-alive); three others send half a request.
  HttpConnection trusted(s.port());
  trusted.Send(BuildRequest("POST", "/secret/1", {}, "x", true));
  BOOST_REQUIRE(trusted.Read().status == 200);
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<HttpConnection>(s.port()));
    idle.back()->Send("POST /secret/2 HTTP/1.1\r\n");
    std::this_thread::sleep_for(50ms);
  }
  // A fifth connection gets in: the oldest half request is closed, not the trusted one.
  HttpReply r = HttpExchange(s.port(), BuildRequest("POST", "/secret/3", {}, "y"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(idle[0]->WaitClosed(2000));
  BOOST_TEST(s.server->stats().evicted >= 1u);
  trusted.Send(BuildRequest("POST", "/secret/4", {}, "z", true));
  BOOST_TEST(trusted.Read().status == 200);
  // When every connection is trusted, a new one is closed at once.
  std::vector<std::unique_ptr<HttpConnection>> all;
  idle.clear();
  for (int i = 0; i < 3; ++i) {
    all.push_back(std::make_unique<HttpConnection>(s.port()));
    all.back()->Send(BuildRequest("POST", "/secret/5", {}, "", true));
    BOOST_REQUIRE(all.back()->Read().status == 200);
  }
  HttpConnection extra(s.port());
  BOOST_TEST(extra.WaitClosed(1000));
  BOOST_TEST(s.server->stats().connections_refused >= 1u);
  all.clear();
  BOOST_TEST(WaitFor([&] { return s.server->stats().connections_open <= 1u; }, 2s));
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/after", {}, "")).status == 200);
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_gives_500_and_the_target_is_not_logged) {
  Server s;
  LogCapture log;
  const std::string token = "Zm9yLXRoZS10ZXN0LW9ubHktbm90LWEtcmVhbC10b2s";
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/throw/" + token, {}, "")).status == 500);
  BOOST_TEST(HttpExchange(s.port(), BuildRequest("GET", "/fine", {}, "")).status == 200);
  std::string text = log.text();
  BOOST_TEST(text.find("handler failed for GET /throw/...: boom") != std::string::npos, text);
  BOOST_TEST(text.find(token) == std::string::npos, text);
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
             "listen address 'not-an-ip' is not an IP address");
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
