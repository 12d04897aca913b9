// The daemon's HTTP/1.1 listener (Boost.Beast on Asio), plain or TLS. One session per
// connection with keep-alive; every read has a deadline: a request's line and headers must
// arrive within header_timeout (from the connection, or from its first byte on a keep-alive
// connection), its body within read_timeout, and an idle keep-alive connection is closed after
// read_timeout. A body over max_body_bytes gets 413 and headers over 16 KiB get 431.
//
// An optional header check sees each request before any body byte is read: it may answer at
// once (the body is never read, the connection is closed) or mark the connection trusted.
// With a check, a request it did not trust may carry at most untrusted_body_bytes. At
// max_connections, the oldest connection not trusted is closed to make room; when every
// connection is trusted, a new one is closed at once. Handler and check run on the I/O
// threads and must not block.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "webhooks/http_types.h"

namespace gitsyncd {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port (see HttpServer::port)
  // Set: listen on this unix socket instead of address:port, created with unix_mode (a socket
  // file already there is replaced, any other file is an error) and removed by Stop(). Who may
  // connect is what the file mode says; every request counts as from loopback.
  std::string unix_socket;
  unsigned unix_mode = 0660;
  std::string tls_cert, tls_key;  // both set = HTTPS
  uint64_t max_body_bytes = 5 * 1024 * 1024;
  unsigned max_connections = 256;
  std::chrono::milliseconds read_timeout{10000};   // a request's body, and idle keep-alive
  std::chrono::milliseconds header_timeout{5000};  // a request's line and headers (TLS handshake included)
  uint64_t untrusted_body_bytes = 16 * 1024;       // body limit of requests a header check did not trust
  unsigned threads = 0;  // I/O threads; 0 = one per usable CPU (affinity), at most 2
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t requests = 0;
  uint64_t timeouts = 0;
  uint64_t evicted = 0;  // untrusted connections closed to make room at max_connections
  unsigned connections_open = 0;
};

// What a header check decides about a request whose headers are complete and whose body is
// still unread (HttpRequest::body is empty).
struct HeaderVerdict {
  std::optional<HttpResponse> answer;  // set: sent now, the body is never read, the connection closes
  bool trusted = false;  // the request proved a secret: full body limit, not dropped first at the cap
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using HeaderCheck = std::function<HeaderVerdict(const HttpRequest&)>;

  // Binds and starts serving; errors name the address (e.g. "address already in use").
  // Without a header check every request may carry max_body_bytes and no connection is trusted.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Handler handler,
                                                   HeaderCheck check = nullptr);
  ~HttpServer();  // Stop()
  void Stop();
  uint16_t port() const;
  HttpServerStats stats() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
