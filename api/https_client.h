// A small blocking HTTPS client for provider REST APIs, on Beast + Asio SSL: certificates
// always verified (system CAs plus an optional CA file, host name checked), one kept-alive
// connection per host reused across requests, a deadline on every step, response bodies
// either capped in memory (JSON listings) or streamed to a file (file contents), and
// `https_proxy` / `no_proxy` honoured through HTTP CONNECT. One client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct HttpsClientOptions {
  std::string ca_file;  // extra trusted CA bundle (PEM); system CAs are always trusted
  std::chrono::milliseconds timeout{30000};  // per connect, handshake, write and read
  uint64_t max_memory_body = 32ull << 20;    // larger in-memory bodies are an error
  std::string user_agent = "gitsyncd";
  std::string https_proxy;  // "http://[user:pass@]host:port"; empty = from $https_proxy
  std::string no_proxy;     // comma-separated host suffixes, "*" = all; empty = from $no_proxy
  bool proxy_from_environment = true;
};

struct HttpsResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;                             // empty when streamed to a file
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpsClient {
 public:
  explicit HttpsClient(HttpsClientOptions options = {});
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // GET `url` (https://host[:port]/path?query); the body is kept in memory (capped).
  Result<HttpsResponse> Get(const std::string& url, const HeaderList& headers);
  // `method` ("POST", "PUT", "PATCH", ...) with `body` (its Content-Type among `headers`); the
  // answer's body is kept in memory (capped). The request is sent once: a dropped connection
  // is an Unavailable error, never silently replayed (a write may have landed).
  Result<HttpsResponse> Send(const std::string& method, const std::string& url, const HeaderList& headers,
                             const std::string& body);
  // GET `url` streaming a 2xx body into `file` (created/truncated), at most `max_bytes`.
  // Non-2xx bodies are kept in memory for the error message.
  Result<HttpsResponse> Download(const std::string& url, const HeaderList& headers, const std::string& file,
                                 uint64_t max_bytes);

  uint64_t requests() const;
  uint64_t connections() const;    // TCP+TLS connections opened

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
