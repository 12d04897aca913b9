#include "api/https_client.h"

#include "config/base64.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <boost/url/parse.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "api/comma_list.h"
#include "api/io_cancel.h"
#include "config/text.h"

namespace gitsyncd {

// The short names Boost.Beast's own examples use, so its documentation reads as our code.
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Idle time after which a kept-alive connection is not trusted with a write (see last_used).
constexpr std::chrono::seconds kIdleBeforeWrite{2};

struct Target {
  std::string host, port, path;  // path includes the query
};

Result<Target> ParseHttpsUrl(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return Status::InvalidArgument("not a URL: " + url);
  if (u->scheme() != "https") return Status::InvalidArgument("only https:// URLs are allowed: " + url);
  Target t;
  t.host = std::string(u->host());
  t.port = u->has_port() ? std::string(u->port()) : "443";
  t.path = std::string(u->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
  return t;
}

std::string Env(const char* a, const char* b) {
  if (const char* v = std::getenv(a); v && *v) return v;
  if (const char* v = std::getenv(b); v && *v) return v;
  return {};
}

bool NoProxyMatches(const std::string& no_proxy, const std::string& host) {
  for (auto item : CommaList(no_proxy)) {
    if (item == "*") return true;
    if (item.front() == '.') item.erase(0, 1);
    if (!item.empty() && (host == item || (host.size() > item.size() &&
                                           host.compare(host.size() - item.size(), item.size(), item) == 0 &&
                                           host[host.size() - item.size() - 1] == '.'))) {
      return true;
    }
  }
  return false;
}

// Every client with the same CA file verifies with the same settings, and loading the system
// CA bundle costs milliseconds (noticeable when a fetch opens 8 download connections), so the
// context is built once per CA file (and its modification time) and shared: an SSL_CTX may
// create connections from several threads at once.
Result<std::shared_ptr<ssl::context>> SharedTlsContext(const std::string& ca_file) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<ssl::context>> cache;
  std::string key = ca_file;
  struct stat st{};
  if (!ca_file.empty() && ::stat(ca_file.c_str(), &st) == 0) {
    key += "@" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  tls->set_verify_mode(ssl::verify_peer);
  tls->set_default_verify_paths(ec);
  if (!ec && !ca_file.empty()) tls->load_verify_file(ca_file, ec);
  if (ec) return Status::InvalidArgument("cannot load CA file " + ca_file + ": " + ec.message());
  cache[key] = tls;
  return tls;
}

}  // namespace

struct HttpsClient::Impl {
  HttpsClientOptions options;
  net::io_context ioc;
  std::shared_ptr<ssl::context> tls;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  std::string connected_to;  // "host:port" of the open connection
  // When the open connection last finished an exchange. Servers close idle keep-alive
  // connections after a few seconds; a write (never retried) must not go out on one that sat
  // idle, for example through a rate-limit wait.
  std::chrono::steady_clock::time_point last_used{};
  beast::flat_buffer buffer;
  uint64_t requests = 0, connections = 0;
  Status tls_setup;

  // Runs the io_context until the started operation completes; Beast's stream timeouts
  // (expires_after) bound every step, and the thread's cancel token (io_cancel.h) is looked
  // at five times a second, aborting the operation when the daemon stops or reloads.
  void RunAll() {
    ioc.restart();
    auto cancel = CurrentIoCancel();
    if (!cancel) {
      ioc.run();
      return;
    }
    while (!ioc.stopped()) {
      ioc.run_for(std::chrono::milliseconds(200));
      if (cancel->cancelled() && stream) beast::get_lowest_layer(*stream).cancel();
    }
  }

  static bool Cancelled() {
    auto cancel = CurrentIoCancel();
    return cancel && cancel->cancelled();
  }

  std::string ErrorText(const beast::error_code& ec) {
    if (Cancelled()) return "cancelled: gitsyncd is stopping or reloading";
    if (ec == beast::error::timeout) return "timed out after " + std::to_string(options.timeout.count()) + " ms";
    std::string m = ec.message();
    if (ec.category() == net::error::get_ssl_category()) {
      char buf[256];
      ::ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
      m = buf;
    }
    return m;
  }

  Status Connect(const Target& t) {
    std::string key = t.host + ":" + t.port;
    if (stream && connected_to == key) return Status::Ok();
    stream.reset();
    connected_to.clear();
    buffer.clear();
    std::string proxy = options.https_proxy, no_proxy = options.no_proxy;
    if (options.proxy_from_environment) {
      if (proxy.empty()) proxy = Env("https_proxy", "HTTPS_PROXY");
      if (no_proxy.empty()) no_proxy = Env("no_proxy", "NO_PROXY");
    }
    bool via_proxy = !proxy.empty() && !NoProxyMatches(no_proxy, t.host);
    std::string connect_host = t.host, connect_port = t.port, proxy_auth;
    if (via_proxy) {
      auto pu = boost::urls::parse_absolute_uri(proxy);
      // The value is never echoed: it may carry the proxy's user and password.
      if (!pu || pu->scheme() != "http") {
        return Status::InvalidArgument("https_proxy must be http://[user:password@]host:port (the value set is not "
                                       "shown: it may hold credentials)");
      }
      connect_host = std::string(pu->host());
      connect_port = pu->has_port() ? std::string(pu->port()) : "80";
      if (pu->has_userinfo()) {
        proxy_auth = "Basic " + Base64Encode(pu->userinfo());
      }
    }
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(connect_host, connect_port, ec);
    if (ec) return Status::Unavailable("cannot resolve " + connect_host + ": " + ec.message());
    stream.emplace(ioc, *tls);
    auto& tcp_stream = beast::get_lowest_layer(*stream);
    tcp_stream.expires_after(options.timeout);
    tcp_stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    RunAll();
    std::string where = via_proxy ? "proxy " + connect_host + ":" + connect_port : key;
    if (ec) return Fail(Status::Unavailable("cannot connect to " + where + ": " + ErrorText(ec)));
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);
    if (via_proxy) {
      http::request<http::empty_body> req{http::verb::connect, key, 11};
      req.set(http::field::host, key);
      if (!proxy_auth.empty()) req.set(http::field::proxy_authorization, proxy_auth);
      tcp_stream.expires_after(options.timeout);
      http::async_write(tcp_stream, req, [&](beast::error_code e, size_t) { ec = e; });
      RunAll();
      http::response_parser<http::empty_body> res;
      res.skip(true);  // a CONNECT answer has no body
      if (!ec) {
        tcp_stream.expires_after(options.timeout);
        http::async_read_header(tcp_stream, buffer, res, [&](beast::error_code e, size_t) { ec = e; });
        RunAll();
      }
      if (ec) return Fail(Status::Unavailable("proxy " + where + " failed: " + ErrorText(ec)));
      if (res.get().result_int() != 200) {
        return Fail(Status::Unavailable("proxy " + where + " refused CONNECT " + key + ": HTTP " +
                                        std::to_string(res.get().result_int())));
      }
    }
    // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
    if (SSL_ctrl(stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(t.host.c_str())) != 1) {
      return Fail(Status::Internal("cannot set TLS server name " + t.host));
    }
    stream->set_verify_callback(ssl::host_name_verification(t.host));
    tcp_stream.expires_after(options.timeout);
    stream->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    RunAll();
    if (ec && Cancelled()) return Fail(Status::Unavailable("TLS handshake with " + key + " " + ErrorText(ec)));
    if (ec) {
      return Fail(Status::PermissionDenied("TLS handshake with " + key + " failed: " + ErrorText(ec) +
                                           " (certificate not trusted or wrong host name? set ca_file in gitsyncd.yaml "
                                           "for a private CA)"));
    }
    connected_to = key;
    ++connections;
    return Status::Ok();
  }

  Status Fail(Status s) {
    stream.reset();
    connected_to.clear();
    return s;
  }

  template <class Body>
  Status Exchange(const Target& t, const HeaderList& headers, http::response_parser<Body>& parser,
                  HttpsResponse* out, http::verb method, const std::string* body) {
    http::request<http::string_body> req{method, t.path, 11};
    req.set(http::field::host, t.port == "443" ? t.host : t.host + ":" + t.port);
    req.set(http::field::user_agent, options.user_agent);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(true);
    if (body) {
      req.body() = *body;
      req.prepare_payload();
    }
    beast::error_code ec;
    auto& tcp_stream = beast::get_lowest_layer(*stream);
    tcp_stream.expires_after(options.timeout);
    http::async_write(*stream, req, [&](beast::error_code e, size_t) { ec = e; });
    RunAll();
    if (ec) return Status::Unavailable("sending a request to " + connected_to + " failed: " + ErrorText(ec));
    tcp_stream.expires_after(options.timeout);
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    RunAll();
    if (ec == http::error::body_limit) return Status::Corrupted("response from " + connected_to + " is larger than allowed");
    if (ec) return Status::Unavailable("reading the answer of " + connected_to + " failed: " + ErrorText(ec));
    ++requests;
    auto& msg = parser.get();
    out->status = msg.result_int();
    for (const auto& f : msg) {
      out->headers[AsciiLower(std::string(f.name_string()))] = std::string(f.value());
    }
    if (!msg.keep_alive()) {
      stream.reset();
      connected_to.clear();
    }
    return Status::Ok();
  }

  // One retry on a fresh connection when a kept-alive one turns out to be closed (only for
  // requests without a body: a write is never sent twice).
  template <class MakeParser, class Finish>
  Result<HttpsResponse> Request(const std::string& url, const HeaderList& headers, MakeParser make, Finish finish,
                                http::verb method = http::verb::get, const std::string* body = nullptr) {
    if (!tls_setup.ok()) return tls_setup;
    auto t = ParseHttpsUrl(url);
    if (!t.ok()) return t.status();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (Cancelled()) return Status::Unavailable("request to " + t->host + " cancelled: gitsyncd is stopping or reloading");
      bool reused = stream.has_value() && connected_to == t->host + ":" + t->port;
      if (reused && body != nullptr && std::chrono::steady_clock::now() - last_used > kIdleBeforeWrite) {
        Fail(Status::Ok());  // a fresh connection for the write
        reused = false;
      }
      Status c = Connect(*t);
      if (!c.ok()) return c;
      auto parser = make();
      HttpsResponse res;
      Status s = Exchange(*t, headers, *parser, &res, method, body);
      if (s.ok()) {
        last_used = std::chrono::steady_clock::now();
        finish(*parser, &res);
        return res;
      }
      Fail(Status::Ok());
      if (!reused || s.code() != Status::Code::kUnavailable || body) return s;
    }
    return Status::Unavailable("request to " + url + " failed");
  }

  // A request whose answer is kept in memory, capped at max_memory_body.
  Result<HttpsResponse> InMemory(const std::string& url, const HeaderList& headers, http::verb method,
                                 const std::string* body) {
    uint64_t limit = options.max_memory_body;
    return Request(
        url, headers,
        [limit] {
          auto p = std::make_unique<http::response_parser<http::string_body>>();
          p->body_limit(limit);
          return p;
        },
        [](http::response_parser<http::string_body>& p, HttpsResponse* res) { res->body = std::move(p.get().body()); },
        method, body);
  }
};

HttpsClient::HttpsClient(HttpsClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto tls = SharedTlsContext(impl_->options.ca_file);
  if (tls.ok()) {
    impl_->tls = *tls;
  } else {
    impl_->tls_setup = tls.status();
  }
}

HttpsClient::~HttpsClient() = default;

Result<HttpsResponse> HttpsClient::Get(const std::string& url, const HeaderList& headers) {
  return impl_->InMemory(url, headers, http::verb::get, nullptr);
}

Result<HttpsResponse> HttpsClient::Send(const std::string& method, const std::string& url, const HeaderList& headers,
                                        const std::string& body) {
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method " + method);
  return impl_->InMemory(url, headers, verb, &body);
}

Result<HttpsResponse> HttpsClient::Download(const std::string& url, const HeaderList& headers, const std::string& file,
                                            uint64_t max_bytes) {
  // Peek at the status first would need two reads; instead stream every body to the file and
  // read a non-2xx one back (they are small error documents).
  std::string path = file;
  Status open_error;
  auto result = impl_->Request(
      url, headers,
      [&path, &open_error, max_bytes] {
        auto p = std::make_unique<http::response_parser<http::file_body>>();
        p->body_limit(max_bytes);
        beast::error_code ec;
        p->get().body().open(path.c_str(), beast::file_mode::write, ec);
        if (ec) open_error = Status::IoError("cannot write " + path + ": " + ec.message());
        return p;
      },
      [&path](http::response_parser<http::file_body>& p, HttpsResponse* res) {
        p.get().body().close();
        if (res->status < 200 || res->status >= 300) {
          std::FILE* f = std::fopen(path.c_str(), "rb");
          if (f) {
            char buf[4096];
            size_t n = std::fread(buf, 1, sizeof buf, f);
            res->body.assign(buf, n);
            std::fclose(f);
          }
        }
      });
  if (!open_error.ok()) return open_error;
  return result;
}

uint64_t HttpsClient::requests() const { return impl_->requests; }
uint64_t HttpsClient::connections() const { return impl_->connections; }

}  // namespace gitsyncd
