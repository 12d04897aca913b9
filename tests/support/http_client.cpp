#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace gitsyncd::testing {

std::string BuildRequest(const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                         bool keep_alive) {
  bool has_host = false;
  for (const auto& h : headers) has_host = has_host || strcasecmp(h.first.c_str(), "host") == 0;
  std::string r = method + " " + target + " HTTP/1.1\r\n" + (has_host ? "" : "Host: 127.0.0.1\r\n");
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) r += "Connection: close\r\n";
  return r + "\r\n" + body;
}

HttpConnection::HttpConnection(int port, const std::string& ipv4) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpConnection::Send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

namespace {
// Reads more bytes into `buf`; returns false on EOF/error/timeout. Sets *eof on EOF.
bool ReadMore(int fd, std::string* buf, std::chrono::steady_clock::time_point deadline, bool* eof) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char chunk[65536];
  ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) {
    *eof = true;
    return false;
  }
  buf->append(chunk, static_cast<size_t>(n));
  return true;
}
}  // namespace

HttpReply HttpConnection::Read(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  HttpReply reply;
  bool eof = false;
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!ReadMore(fd_, &buffer_, deadline, &eof)) {
      reply.closed = eof;
      return reply;
    }
  }
  std::string head = buffer_.substr(0, header_end);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  reply.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      reply.headers[name] = value;
    }
    pos = end + 2;
  }
  size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
  while (buffer_.size() < header_end + 4 + length) {
    if (!ReadMore(fd_, &buffer_, deadline, &eof)) break;
  }
  reply.body = buffer_.substr(header_end + 4, length);
  buffer_.erase(0, std::min(buffer_.size(), header_end + 4 + length));
  reply.closed = reply.headers["connection"] == "close";
  return reply;
}

bool HttpConnection::WaitClosed(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool eof = false;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    if (!ReadMore(fd_, &buffer_, deadline, &eof) && !eof) {
      if (std::chrono::steady_clock::now() >= deadline) break;
    }
  }
  return eof;
}

std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

HttpReply HttpExchange(int port, const std::string& request, int timeout_ms, const std::string& ipv4) {
  HttpConnection c(port, ipv4);
  c.Send(request);
  return c.Read(timeout_ms);
}

}  // namespace gitsyncd::testing
