#include "webhooks/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <thread>

namespace gitsyncd {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  // Counters outlive the io_context below: sessions destroyed with it still decrement them.
  std::atomic<uint64_t> accepted{0}, refused{0}, requests{0}, timeouts{0};
  std::atomic<unsigned> open{0};
  std::optional<ssl::context> tls;  // outlives the TLS sessions destroyed with the contexts
  // One io_context per thread, each run by exactly that thread: a connection lives on one
  // of them (its implicit strand), and threads never contend on a shared scheduler queue.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  size_t next_context = 0;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;

  void Accept();
};

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

  template <class... Args>
  Session(HttpServer::Impl* server, tcp::socket&& socket, Args&&... args)
      : stream_(std::move(socket), std::forward<Args>(args)...), server_(server) {
    ++server_->open;
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = ep.address().to_string();
      loopback_ = ep.address().is_loopback() ||
                  (ep.address().is_v6() && ep.address().to_v6().is_v4_mapped() &&
                   net::ip::make_address_v4(net::ip::v4_mapped, ep.address().to_v6()).is_loopback());
    }
  }
  ~Session() { --server_->open; }

  void Run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Begin, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    if constexpr (kTls) {
      Tcp().expires_after(server_->options.read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      Read();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // a failed TLS handshake is the client's problem; nothing to answer
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    // One deadline for the whole request: a client trickling bytes cannot hold the slot.
    Tcp().expires_after(server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec == beast::error::timeout) {
      ++server_->timeouts;
      return;  // the stream is already closed by the timeout
    }
    if (ec == http::error::body_limit) return Reply(Error(413, "body larger than " + std::to_string(server_->options.max_body_bytes) + " bytes"), false);
    if (ec == http::error::header_limit) return Reply(Error(431, "request headers too large"), false);
    if (ec) {
      if (ec == net::error::operation_aborted || ec == net::error::eof || ec == net::error::connection_reset) return;
      return Reply(Error(400, "malformed HTTP request: " + ec.message()), false);
    }
    ++server_->requests;
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    req.from_loopback = loopback_;
    HttpResponse res;
    try {
      res = server_->handler(req);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed for {} {}: {}", req.method, req.target, e.what());
      res = Error(500, "internal error");
    }
    Reply(std::move(res), msg.keep_alive());
  }

  static HttpResponse Error(int status, const std::string& message) {
    HttpResponse r;
    r.status = status;
    r.body = "{\"error\":\"" + message + "\"}\n";
    return r;
  }

  void Reply(HttpResponse res, bool keep_alive) {
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(11);
    msg->result(static_cast<http::status>(res.status));
    msg->set(http::field::server, "gitsyncd");
    msg->set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) msg->set(k, v);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive);
    msg->prepare_payload();
    response_ = msg;
    Tcp().expires_after(server_->options.read_timeout);
    http::async_write(stream_, *msg, beast::bind_front_handler(&Session::OnWrite, this->shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    response_.reset();
    if (ec) return;
    if (!keep_alive) return Close();
    Read();
  }

  void Close() {
    if constexpr (kTls) {
      Tcp().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  std::string remote_;
  bool loopback_ = false;
};

}  // namespace

void HttpServer::Impl::Accept() {
  net::io_context& target = *contexts[next_context++ % contexts.size()];
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      spdlog::warn("http: accept failed: {}", ec.message());
    } else if (open.load() >= options.max_connections) {
      ++refused;  // over the cap: close at once rather than queue unbounded work
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      ++accepted;
      if (tls) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(this, std::move(socket), *tls)->Run();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket))->Run();
      }
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  std::string where = options.address + ":" + std::to_string(options.port);
  beast::error_code ec;
  auto address = net::ip::make_address(options.address, ec);
  if (ec) return Status::InvalidArgument("listen.address '" + options.address + "' is not an IP address");
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
  unsigned n = std::max(1u, options.threads);
  for (unsigned i = 0; i < n; ++i) impl->contexts.push_back(std::make_unique<net::io_context>(1));
  impl->acceptor.emplace(*impl->contexts[0]);
  tcp::endpoint endpoint(address, options.port);
  impl->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(endpoint, ec);
  if (!ec) impl->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor->local_endpoint(ec).port();
  impl->Accept();
  for (auto& ctx : impl->contexts) {
    impl->threads.emplace_back([ioc = ctx.get()] {
      auto guard = net::make_work_guard(*ioc);  // idle contexts wait for connections
      ioc->run();
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  net::post(*impl_->contexts[0], [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor->close(ec);
  });
  for (auto& ctx : impl_->contexts) ctx->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

uint16_t HttpServer::port() const { return impl_->port; }

HttpServerStats HttpServer::stats() const {
  return {impl_->accepted.load(), impl_->refused.load(), impl_->requests.load(), impl_->timeouts.load(),
          impl_->open.load()};
}

}  // namespace gitsyncd
