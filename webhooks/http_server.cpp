#include "webhooks/http_server.h"

#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace gitsyncd {

// The short names Boost.Beast's own examples use, so its documentation reads as our code.
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A socket bound to one io_context's executor (no type-erased executor on every operation).
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;
using TlsStream = ssl::stream<Socket>;
using Local = net::local::stream_protocol;
using UnixSocket = net::basic_stream_socket<Local, net::io_context::executor_type>;

struct Loop;

// What the sweep of a loop and the connection cap need to know of a session.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Expire() = 0;  // the deadline passed: close the connection
  virtual void Evict() = 0;   // closed to make room at the cap (called on its loop)
  Clock::time_point deadline = Clock::time_point::max();
  size_t slot = 0;  // index in its loop's session list
  Loop* loop = nullptr;
  // Its place among the untrusted connections (guarded by UntrustedList::mu).
  std::list<std::weak_ptr<SessionBase>>::iterator untrusted_at;
  bool listed = false;
};

// The connections that have not proved a secret, oldest first, across all loops: at the cap
// the oldest of them makes room for a new one.
class UntrustedList {
 public:
  void Add(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    s->untrusted_at = oldest_first_.insert(oldest_first_.end(), s);
    s->listed = true;
  }
  void Remove(SessionBase* s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!s->listed) return;
    oldest_first_.erase(s->untrusted_at);
    s->listed = false;
  }
  // Takes the oldest one still alive out of the list; null when there is none. A session
  // being destroyed is skipped: its destructor takes itself out.
  std::shared_ptr<SessionBase> PopOldest() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = oldest_first_.begin(); it != oldest_first_.end(); ++it) {
      if (auto s = it->lock()) {
        oldest_first_.erase(it);
        s->listed = false;
        return s;
      }
    }
    return nullptr;
  }

 private:
  std::mutex mu_;
  std::list<std::weak_ptr<SessionBase>> oldest_first_;
};

// One event loop with its own thread. Sessions on it are swept for passed deadlines a few
// times per read_timeout, instead of arming a timer (a syscall) for every read and write.
struct Loop {
  std::vector<SessionBase*> sessions;  // touched only by this loop's thread; outlives the context
  net::io_context ioc{1};
  net::steady_timer sweep{ioc};
  Clock::duration tick{};

  void Add(SessionBase* s) {
    s->slot = sessions.size();
    sessions.push_back(s);
  }
  void Remove(SessionBase* s) {
    if (s->slot >= sessions.size() || sessions[s->slot] != s) return;  // never added
    sessions[s->slot] = sessions.back();
    sessions[s->slot]->slot = s->slot;
    sessions.pop_back();
  }
  void Sweep() {
    sweep.expires_after(tick);
    sweep.async_wait([this](beast::error_code ec) {
      if (ec) return;
      auto now = Clock::now();
      // Expire only closes sockets; the sessions go away later, from their own handlers.
      for (size_t i = 0; i < sessions.size(); ++i) {
        if (sessions[i]->deadline <= now) {
          sessions[i]->deadline = Clock::time_point::max();
          sessions[i]->Expire();
        }
      }
      Sweep();
    });
  }
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  HeaderCheck check;  // may be empty
  // Counters outlive the loops below: sessions destroyed with them still decrement them.
  std::atomic<uint64_t> accepted{0}, refused{0}, requests{0}, timeouts{0}, evicted{0};
  std::atomic<unsigned> open{0};
  UntrustedList untrusted;  // likewise
  std::optional<ssl::context> tls;  // outlives the TLS sessions destroyed with the loops
  // One io_context per thread, each run by exactly that thread: a connection lives on one
  // of them, and threads never contend on a shared scheduler queue.
  std::vector<std::unique_ptr<Loop>> loops;
  size_t next_loop = 0;
  std::optional<tcp::acceptor> acceptor;
  std::optional<Local::acceptor> unix_acceptor;  // instead of acceptor with options.unix_socket
  ino_t unix_inode = 0;                          // of the socket file this server created
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;

  void Accept();
  void AcceptUnix();
  bool MakeRoom();
  Status Listen();
  Status ListenUnix();
};

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;  // one recv takes a typical delivery whole
constexpr size_t kKeepBodyCapacity = 64 * 1024;
// After an answer sent before the body was read, what the client still sends is read and
// dropped for this long before the socket closes: closing with unread bytes would reset the
// connection and could destroy the answer before the client reads it.
constexpr auto kDrainTime = std::chrono::seconds(1);

// The first path segment only: a target may carry a secret (the webhook URL token).
std::string RedactedTarget(const std::string& target) {
  size_t end = target.find_first_of("/?", 1);
  return end == std::string::npos ? target : target.substr(0, end) + "/...";
}

// Beast's HTTP/1.1 grammar (limits, chunked bodies, keep-alive rules) writing straight into
// the session's reusable HttpRequest: no field container in between, the body appended into
// a string whose capacity stays with the session.
class RequestReader : public http::basic_parser<true> {
 public:
  RequestReader(HttpRequest* req, uint64_t body_limit) : req_(req) {
    this->body_limit(body_limit);
    this->header_limit(kHeaderLimit);
    this->eager(true);
  }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int,
                       beast::error_code&) override {
    req_->method.assign(method.data(), method.size());
    req_->target.assign(target.data(), target.size());
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    std::string lower(name.data(), name.size());
    for (auto& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    req_->headers.emplace(std::move(lower), std::string(value.data(), value.size()));  // the first one stays
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) req_->body.reserve(static_cast<size_t>(*length));  // at most body_limit: checked before
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  HttpRequest* req_;
};

// The status line and headers of an answer, then its body, in one string (one send).
void Serialize(const HttpResponse& res, bool keep_alive, std::string* out) {
  out->clear();
  auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
  *out += "HTTP/1.1 ";
  *out += std::to_string(res.status);
  *out += ' ';
  out->append(reason.data(), reason.size());
  *out += "\r\nServer: gitsyncd\r\nContent-Type: ";
  *out += res.content_type;
  for (const auto& [k, v] : res.headers) {
    *out += "\r\n";
    *out += k;
    *out += ": ";
    *out += v;
  }
  *out += "\r\nContent-Length: ";
  *out += std::to_string(res.body.size());
  if (!keep_alive) *out += "\r\nConnection: close";
  *out += "\r\n\r\n";
  *out += res.body;
}

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  static constexpr bool kUnix = std::is_same_v<Stream, UnixSocket>;
  using Lower = std::conditional_t<kUnix, UnixSocket, Socket>;

  template <class... Args>
  Session(HttpServer::Impl* server, Loop* home, Lower&& socket, Args&&... args)
      : stream_(std::move(socket), std::forward<Args>(args)...), server_(server) {
    loop = home;
    ++server_->open;
    beast::error_code ec;
    if constexpr (kUnix) {
      ucred peer{};
      socklen_t len = sizeof peer;
      remote_ = ::getsockopt(Lowest().native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0
                    ? "unix socket, uid " + std::to_string(peer.uid)
                    : "unix socket";
      loopback_ = true;  // on this host, and past the socket file's mode
    } else {
      auto ep = Lowest().remote_endpoint(ec);
      if (!ec) {
        remote_ = ep.address().to_string();
        loopback_ = ep.address().is_loopback() ||
                    (ep.address().is_v6() && ep.address().to_v6().is_v4_mapped() &&
                     net::ip::make_address_v4(net::ip::v4_mapped, ep.address().to_v6()).is_loopback());
      }
      Lowest().set_option(tcp::no_delay(true), ec);
    }
    Lowest().non_blocking(true, ec);
    buffer_.reserve(kReadChunk);
  }
  ~Session() override {
    loop->Remove(this);
    server_->untrusted.Remove(this);
    --server_->open;
  }

  void Run() {
    server_->untrusted.Add(this->shared_from_this());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Begin(); });
  }

  void Expire() override {
    if (!closing_) ++server_->timeouts;  // a read or write that did not finish in time
    beast::error_code ec;
    Lowest().close(ec);  // pending operations end with operation_aborted
  }

  void Evict() override {
    if (trusted_) return;  // proved its secret after it was picked: it stays
    ++server_->evicted;
    closing_ = true;
    beast::error_code ec;
    Lowest().close(ec);
  }

 private:
  Lower& Lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  void Deadline(Clock::duration d) { deadline = Clock::now() + d; }

  // A new connection has header_timeout for its TLS handshake and first request's headers.
  void Begin() {
    loop->Add(this);
    Deadline(server_->options.header_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return;  // a failed TLS handshake is the client's problem; nothing to answer
        self->Read(true);
      });
    } else {
      Read(true);
    }
  }

  // Deadlines: headers within header_timeout of the connection (first request) or of their
  // first byte (keep-alive), the body within read_timeout of the headers; an idle keep-alive
  // connection waits read_timeout. A client trickling bytes cannot hold the slot.
  void Read(bool first) {
    req_.method.clear();
    req_.target.clear();
    req_.headers.clear();
    // The body keeps its capacity for the next request, unless a large one left it big: an idle
    // connection should not hold up to max_body_bytes.
    if (req_.body.capacity() > kKeepBodyCapacity) std::string().swap(req_.body);
    req_.body.clear();
    body_limit_ = server_->options.max_body_bytes;
    reader_.emplace(&req_, body_limit_);
    reader_->eager(false);  // stop after the headers: they are checked before the body is read
    checked_ = false;
    header_clock_ = first;
    if (!first) Deadline(server_->options.read_timeout);
    Parse();
  }

  // Parses what is buffered; reads more while the request is incomplete.
  void Parse() {
    while (buffer_.size() > 0) {
      beast::error_code ec;
      size_t used = reader_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (!header_clock_ && reader_->got_some()) {
        header_clock_ = true;
        Deadline(server_->options.header_timeout);
      }
      if (ec == http::error::need_more) break;
      if (ec) return Failed(ec);
      if (!checked_ && reader_->is_header_done()) {
        checked_ = true;
        if (!Admit()) return;
        reader_->eager(true);
        Deadline(server_->options.read_timeout);
      }
      if (reader_->is_done()) return Handle();
      if (used == 0) break;
    }
    // Asio tries the receive at once and waits for readiness only when the kernel has
    // nothing yet: two receives per request and no epoll_ctl (an async_wait would re-arm
    // the descriptor with one every time).
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = this->shared_from_this()](beast::error_code e, size_t n) {
      self->buffer_.commit(n);
      if (e) return self->ReadFailed(e);
      self->Parse();
    });
  }

  void ReadFailed(beast::error_code ec) {
    if (ec == net::error::eof || ec == ssl::error::stream_truncated) {
      if (reader_->got_some()) {
        reader_->put_eof(ec);
        if (!ec && reader_->is_done()) return Handle();
        return Failed(ec ? ec : http::error::partial_message);
      }
      return Close();  // the client closed between requests
    }
    // Aborted (deadline or stop), reset, or a broken socket: nothing to answer.
  }

  // The header check, before any body byte is read. False when it answered the request.
  bool Admit() {
    if (!server_->check) return true;
    req_.remote_address = remote_;
    req_.from_loopback = loopback_;
    HeaderVerdict verdict;
    try {
      verdict = server_->check(req_);
    } catch (const std::exception& e) {
      spdlog::error("http: header check failed for {} {}: {}", req_.method, RedactedTarget(req_.target), e.what());
      verdict.answer = JsonErrorResponse(500, "internal error");
    }
    if (verdict.answer) {
      ++server_->requests;
      drain_ = true;
      Reply(*verdict.answer, false);
      return false;
    }
    if (verdict.trusted) {
      trusted_ = true;
      server_->untrusted.Remove(this);
      return true;
    }
    // Not trusted: a small body at most, whatever max_body_bytes allows.
    body_limit_ = std::min(body_limit_, server_->options.untrusted_body_bytes);
    auto length = reader_->content_length();
    if (length && *length > body_limit_) {
      Failed(http::error::body_limit);
      return false;
    }
    reader_->body_limit(body_limit_);
    return true;
  }

  void Failed(beast::error_code ec) {
    drain_ = true;
    if (ec == http::error::body_limit) {
      return Reply(JsonErrorResponse(413, "body larger than " + std::to_string(body_limit_) + " bytes"), false);
    }
    if (ec == http::error::header_limit) return Reply(JsonErrorResponse(431, "request headers too large"), false);
    return Reply(JsonErrorResponse(400, "malformed HTTP request: " + ec.message()), false);
  }

  void Handle() {
    ++server_->requests;
    req_.remote_address = remote_;
    req_.from_loopback = loopback_;
    bool keep_alive = reader_->keep_alive();
    HttpResponse res;
    try {
      res = server_->handler(req_);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed for {} {}: {}", req_.method, RedactedTarget(req_.target), e.what());
      res = JsonErrorResponse(500, "internal error");
    }
    Reply(res, keep_alive);
  }

  void Reply(const HttpResponse& res, bool keep_alive) {
    Serialize(res, keep_alive, &out_);
    Deadline(server_->options.read_timeout);
    size_t sent = 0;
    if constexpr (!kTls) {
      // Usually the whole answer fits the socket buffer: one send, no operation queued.
      beast::error_code ec;
      sent = stream_.write_some(net::buffer(out_), ec);
      if (ec && ec != net::error::would_block && ec != net::error::try_again) return;
      if (sent == out_.size()) return Written(keep_alive);
    }
    net::async_write(stream_, net::buffer(out_.data() + sent, out_.size() - sent),
                     [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                       if (!ec) self->Written(keep_alive);
                     });
  }

  void Written(bool keep_alive) {
    if (!keep_alive) return Close();
    Read(false);
  }

  void Close() {
    closing_ = true;
    if constexpr (kTls) {
      Deadline(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      Lowest().shutdown(net::socket_base::shutdown_send, ec);
      deadline = Clock::time_point::max();
      if (drain_) {
        Deadline(kDrainTime);
        Drain();
      }
    }
  }

  // Reads and drops what the client still sends, until it closes or the deadline passes.
  void Drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = this->shared_from_this()](beast::error_code e, size_t) {
      if (!e) self->Drain();
    });
  }

  Stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;           // reused for every request of the connection
  HttpRequest req_;                     // likewise (the body keeps its capacity)
  std::optional<RequestReader> reader_;
  std::string out_;                     // the serialized answer
  std::string remote_;
  uint64_t body_limit_ = 0;  // of the request being read
  bool loopback_ = false;
  bool closing_ = false;
  bool trusted_ = false;       // a request on this connection proved a secret
  bool checked_ = false;       // the header check ran for the request being read
  bool header_clock_ = false;  // the header deadline runs for the request being read
  bool drain_ = false;         // answered before the body was read: drain before closing
};

// The CPUs this process may run on (taskset, cgroup cpusets), at least 1.
unsigned UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

void HttpServer::Impl::Accept() {
  Loop& target = *loops[next_loop++ % loops.size()];
  acceptor->async_accept(target.ioc.get_executor(), [this, &target](beast::error_code ec, Socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      spdlog::warn("http: accept failed: {}", ec.message());
    } else if (open.load() >= options.max_connections && !MakeRoom()) {
      ++refused;  // over the cap and every connection trusted: close at once rather than queue
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++accepted;
      if (tls) {
        std::make_shared<Session<TlsStream>>(this, &target, std::move(socket), *tls)->Run();
      } else {
        std::make_shared<Session<Socket>>(this, &target, std::move(socket))->Run();
      }
    }
    Accept();
  });
}

void HttpServer::Impl::AcceptUnix() {
  Loop& target = *loops[next_loop++ % loops.size()];
  unix_acceptor->async_accept(target.ioc.get_executor(), [this, &target](beast::error_code ec, UnixSocket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !unix_acceptor->is_open()) return;
      spdlog::warn("http: accept failed on {}: {}", options.unix_socket, ec.message());
    } else if (open.load() >= options.max_connections && !MakeRoom()) {
      ++refused;
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++accepted;
      std::make_shared<Session<UnixSocket>>(this, &target, std::move(socket))->Run();
    }
    AcceptUnix();
  });
}

// Closes the oldest connection that has not proved a secret, on its own loop; false if none.
bool HttpServer::Impl::MakeRoom() {
  std::shared_ptr<SessionBase> victim = untrusted.PopOldest();
  if (!victim) return false;
  net::post(victim->loop->ioc, [victim] { victim->Evict(); });
  return true;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Handler handler,
                                                      HeaderCheck check) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->check = std::move(check);
  if (!options.tls_cert.empty()) {
    try {
      impl->tls.emplace(ssl::context::tls_server);
      impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      impl->tls->use_certificate_chain_file(options.tls_cert);
      impl->tls->use_private_key_file(options.tls_key, ssl::context::pem);
    } catch (const std::exception& e) {
      return Status::InvalidArgument("listen TLS: cannot load tls_cert " + options.tls_cert + " / tls_key " +
                                     options.tls_key + ": " + e.what());
    }
  }
  // More I/O threads than usable CPUs only adds context switches.
  unsigned n = options.threads > 0 ? options.threads : std::min(2u, UsableCpus());
  // A deadline is noticed within a quarter of the shorter timeout (at most 1 s, at least 10 ms) of passing.
  auto tick = std::clamp<Clock::duration>(std::min(options.read_timeout, options.header_timeout) / 4,
                                          std::chrono::milliseconds(10), std::chrono::seconds(1));
  for (unsigned i = 0; i < n; ++i) {
    impl->loops.push_back(std::make_unique<Loop>());
    impl->loops.back()->tick = tick;
  }
  Status listening = options.unix_socket.empty() ? impl->Listen() : impl->ListenUnix();
  if (!listening.ok()) return listening;
  for (auto& loop : impl->loops) {
    loop->Sweep();
    impl->threads.emplace_back([ioc = &loop->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Status HttpServer::Impl::Listen() {
  std::string where = options.address + ":" + std::to_string(options.port);
  beast::error_code ec;
  auto address = net::ip::make_address(options.address, ec);
  if (ec) return Status::InvalidArgument("listen address '" + options.address + "' is not an IP address");
  acceptor.emplace(loops[0]->ioc);
  tcp::endpoint endpoint(address, options.port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  port = acceptor->local_endpoint(ec).port();
  Accept();
  return Status::Ok();
}

// A socket file left by an earlier run is replaced; anything else at the path is not ours to
// remove. The file is created with the umask's mode (the owner alone may connect under the
// usual 022) and then given unix_mode.
Status HttpServer::Impl::ListenUnix() {
  const std::string& path = options.unix_socket;
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::InvalidArgument(path + " exists and is not a socket: not replaced");
    if (::unlink(path.c_str()) != 0) return Status::IoError("cannot replace " + path + ": " + std::strerror(errno));
  }
  beast::error_code ec;
  unix_acceptor.emplace(loops[0]->ioc);
  unix_acceptor->open(Local(), ec);
  if (!ec) unix_acceptor->bind(Local::endpoint(path), ec);
  if (!ec && ::chmod(path.c_str(), options.unix_mode) != 0) ec.assign(errno, beast::system_category());
  if (!ec) unix_acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on unix socket " + path + ": " + ec.message());
  if (::lstat(path.c_str(), &st) == 0) unix_inode = st.st_ino;
  AcceptUnix();
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  net::post(impl_->loops[0]->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
    if (impl->unix_acceptor) impl->unix_acceptor->close(ec);
  });
  for (auto& loop : impl_->loops) loop->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Only the socket file this server made: another may have replaced it since.
  struct stat st{};
  if (impl_->unix_inode != 0 && ::lstat(impl_->options.unix_socket.c_str(), &st) == 0 &&
      S_ISSOCK(st.st_mode) && st.st_ino == impl_->unix_inode) {
    ::unlink(impl_->options.unix_socket.c_str());
  }
}

uint16_t HttpServer::port() const { return impl_->port; }

HttpServerStats HttpServer::stats() const {
  return {impl_->accepted.load(), impl_->refused.load(), impl_->requests.load(), impl_->timeouts.load(),
          impl_->evicted.load(), impl_->open.load()};
}

}  // namespace gitsyncd
