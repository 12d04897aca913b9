// The daemon's HTTP/1.1 listener (Boost.Beast on Asio), plain or TLS. One session per
// connection with keep-alive; every read has a deadline (a client that trickles its request
// is cut off at read_timeout); connections beyond max_connections are closed at once; a body
// over max_body_bytes gets 413 and headers over 16 KiB get 431. The handler runs on the I/O
// threads and must not block.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/status.h"
#include "webhooks/http_types.h"

namespace gitsyncd {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port (see HttpServer::port)
  std::string tls_cert, tls_key;  // both set = HTTPS
  uint64_t max_body_bytes = 5 * 1024 * 1024;
  unsigned max_connections = 256;
  std::chrono::milliseconds read_timeout{10000};  // per request, and idle keep-alive
  unsigned threads = 0;  // I/O threads; 0 = one per usable CPU (affinity), at most 2
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t requests = 0;
  uint64_t timeouts = 0;
  unsigned connections_open = 0;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving; errors name the address (e.g. "address already in use").
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Handler handler);
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
