// A deliberately small HTTP/1.1 client over raw sockets, so tests control every byte a client
// sends (trickled headers, truncated bodies, many connections) and see exactly what the
// listener answers.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace gitsyncd::testing {

struct HttpReply {
  int status = 0;  // 0 = no response (connection closed or timed out first)
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  bool closed = false;  // the server closed the connection after this reply (or instead of one)
};

// "POST <target> HTTP/1.1" with Host (127.0.0.1 unless given), Content-Length and the given headers.
std::string BuildRequest(const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                         bool keep_alive = false);

class HttpConnection {
 public:
  explicit HttpConnection(int port, const std::string& ipv4 = "127.0.0.1");  // throws when it cannot connect
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  bool Send(const std::string& bytes);  // false when the peer is gone
  // Reads one response (Content-Length framed), waiting at most timeout_ms.
  HttpReply Read(int timeout_ms = 5000);
  // True when the server closed the connection within timeout_ms.
  bool WaitClosed(int timeout_ms);

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
HttpReply HttpExchange(int port, const std::string& request, int timeout_ms = 5000,
                       const std::string& ipv4 = "127.0.0.1");

// A local IPv4 address that is not loopback (e.g. the container's eth0), or "" if none.
std::string NonLoopbackAddress();

}  // namespace gitsyncd::testing
