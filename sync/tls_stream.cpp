#include "sync/tls_stream.h"

#include <arpa/inet.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>

#include "sync/socket_stream.h"

namespace gitsyncd {
namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
constexpr const char* kSystemDir = "/etc/ssl/certs";

// Sessions to resume, one per "host:port", owned by the context they were made under: a new
// trust setup (SetTlsTrust) starts with none, so a session verified against one set of CAs is
// never resumed under another. Only sessions of connections whose certificate verified are kept.
class SessionCache {
 public:
  static constexpr size_t kMaxOrigins = 1024;
  ~SessionCache() {
    for (auto& [origin, session] : sessions_) SSL_SESSION_free(session);
  }
  // A new reference to the origin's session (the caller frees it), or null when there is none,
  // it has expired, or a TLS failure of a connection that used it made it not resumable.
  SSL_SESSION* Get(const std::string& origin) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(origin);
    if (it == sessions_.end()) return nullptr;
    if (Expired(it->second) || SSL_SESSION_is_resumable(it->second) != 1) {
      SSL_SESSION_free(it->second);
      sessions_.erase(it);
      return nullptr;
    }
    SSL_SESSION_up_ref(it->second);
    return it->second;
  }
  // Takes the reference.
  void Put(const std::string& origin, SSL_SESSION* session) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = sessions_.try_emplace(origin, session);
    if (!inserted) {
      SSL_SESSION_free(it->second);
      it->second = session;
    } else if (sessions_.size() > kMaxOrigins) {
      EvictOldest(origin);
    }
  }
  void Forget(const std::string& origin) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(origin);
    if (it == sessions_.end()) return;
    SSL_SESSION_free(it->second);
    sessions_.erase(it);
  }

 private:
  // By the server's ticket lifetime hint when it gave one, and OpenSSL's session timeout (2 h).
  static bool Expired(SSL_SESSION* s) {
    long long lifetime = SSL_SESSION_get_timeout(s);
    unsigned long hint = SSL_SESSION_get_ticket_lifetime_hint(s);
    if (hint > 0 && static_cast<long long>(hint) < lifetime) lifetime = static_cast<long long>(hint);
    return static_cast<long long>(SSL_SESSION_get_time(s)) + lifetime <= static_cast<long long>(std::time(nullptr));
  }
  void EvictOldest(const std::string& keep) {
    auto oldest = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->first == keep) continue;
      if (oldest == sessions_.end() || SSL_SESSION_get_time(it->second) < SSL_SESSION_get_time(oldest->second)) {
        oldest = it;
      }
    }
    if (oldest == sessions_.end()) return;
    SSL_SESSION_free(oldest->second);
    sessions_.erase(oldest);
  }
  std::mutex mu_;
  std::map<std::string, SSL_SESSION*> sessions_;
};

struct TlsContext {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{nullptr, SSL_CTX_free};
  SessionCache sessions;
};
using ContextPtr = std::shared_ptr<TlsContext>;

std::mutex g_mu;
thread_local TlsOriginGuard* t_guard = nullptr;
ContextPtr g_context;  // replaced whole by SetTlsTrust; streams keep the one they started with

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int NewSession(SSL* ssl, SSL_SESSION* session);

Result<ContextPtr> MakeContext(const std::string& extra_ca_file) {
  auto made = std::make_shared<TlsContext>();
  made->ctx.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = made->ctx.get();
  if (ctx == nullptr) return Status::Internal("cannot create a TLS context: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // The chain and host name are verified during the handshake and the verdict is read right
  // after it (Connect), so libgit2's certificate check callback sees it: a failure is
  // GIT_ECERTIFICATE and the connection is dropped before a byte of HTTP is sent.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // HTTP frames its own messages; a peer that closes without close_notify is plain EOF here
  // and libgit2 reports a truncated message itself.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  if (SSL_CTX_load_verify_locations(ctx, access(kSystemBundle, R_OK) == 0 ? kSystemBundle : nullptr,
                                    kSystemDir) != 1) {
    return Status::IoError(std::string("cannot load the system CA certificates ") + kSystemBundle + ": " +
                           OpenSslError());
  }
  if (!extra_ca_file.empty()) {
    if (access(extra_ca_file.c_str(), R_OK) != 0) return Status::NotFound("CA file " + extra_ca_file + " cannot be read");
    if (SSL_CTX_load_verify_locations(ctx, extra_ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("cannot load CA file " + extra_ca_file + ": " + OpenSslError());
    }
  }
  // Sessions are resumed from our own cache (TlsContext::sessions): NewSession hears of each one,
  // including TLS 1.3 tickets, which arrive after the handshake, on the first read.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, NewSession);
  return made;
}

ContextPtr CurrentContext() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_context) {
    auto made = MakeContext("");
    if (made.ok()) g_context = *made;
  }
  return g_context;
}

struct TlsStream {
  git_stream parent;  // first member: libgit2 hands us back this pointer
  git_stream* io = nullptr;
  bool owns_io = false;
  bool io_failed = false;  // the stream below failed and has set libgit2's error
  bool tls_failed = false;  // a TLS-level failure: the session must not be resumed
  std::string host;
  std::string origin;  // "host:port" the session cache is keyed by; "" (no resumption) through a proxy
  ContextPtr context;
  SSL* ssl = nullptr;
  std::string cert_der;
  git_cert_x509 cert{};
};

TlsStream* Self(git_stream* s) { return reinterpret_cast<TlsStream*>(s); }

// A BIO over the git_stream below: our TCP stream, or a proxy's CONNECT tunnel.
int BioWrite(BIO* b, const char* buf, int len) {
  auto* s = static_cast<TlsStream*>(BIO_get_data(b));
  ssize_t n = s->io->write(s->io, buf, static_cast<size_t>(len), 0);
  if (n < 0) s->io_failed = true;
  return n < 0 ? -1 : static_cast<int>(n);
}

int BioRead(BIO* b, char* buf, int len) {
  auto* s = static_cast<TlsStream*>(BIO_get_data(b));
  ssize_t n = s->io->read(s->io, buf, static_cast<size_t>(len));
  if (n < 0) s->io_failed = true;
  return n < 0 ? -1 : static_cast<int>(n);
}

long BioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int BioCreate(BIO* b) {
  BIO_set_init(b, 1);
  BIO_set_data(b, nullptr);
  return 1;
}

int BioDestroy(BIO* b) { return b != nullptr ? 1 : 0; }

BIO_METHOD* StreamBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gitsyncd git_stream");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    BIO_meth_set_destroy(m, BioDestroy);
    return m;
  }();
  return method;
}

int SetError(const std::string& message) {
  git_error_set_str(GIT_ERROR_SSL, message.c_str());
  return -1;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// An I/O failure of the TCP stream below already set libgit2's error (and the socket error
// RemoteAuth reports); only TLS-level failures are described here.
int TlsFailure(TlsStream* s, int ssl_rc, const std::string& what) {
  int err = SSL_get_error(s->ssl, ssl_rc);
  if (s->io_failed) return -1;
  s->tls_failed = true;
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    return SetError(what + " " + s->host + " failed: connection closed by the server");
  }
  return SetError(what + " " + s->host + " failed: " + OpenSslError());
}

// A resumed session carries the verdict on the certificate it was first verified with (read
// below as for a full handshake); the cache only holds sessions whose verdict was "valid" for
// this very host name and port, under this context's CAs.
void OfferCachedSession(TlsStream* s) {
  if (s->origin.empty()) return;
  SSL_SESSION* cached = s->context->sessions.Get(s->origin);
  if (cached == nullptr) return;
  SSL_set_session(s->ssl, cached);
  SSL_SESSION_free(cached);
}

int NewSession(SSL* ssl, SSL_SESSION* session) {
  auto* s = static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (s == nullptr || s->origin.empty() || SSL_get_verify_result(ssl) != X509_V_OK ||
      SSL_get0_peer_certificate(ssl) == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    return 0;
  }
  s->context->sessions.Put(s->origin, session);
  return 1;  // the cache holds the reference now
}

int Connect(git_stream* stream) {
  TlsStream* s = Self(stream);
  if (s->owns_io) {
    int rc = s->io->connect(s->io);
    if (rc < 0) return rc;
  }
  s->context = CurrentContext();
  if (!s->context) return SetError("no TLS context: the CA certificates could not be loaded");
  s->ssl = SSL_new(s->context->ctx.get());
  if (s->ssl == nullptr) return SetError("cannot start TLS: " + OpenSslError());
  SSL_set_app_data(s->ssl, s);
  BIO* bio = BIO_new(StreamBioMethod());
  BIO_set_data(bio, s);
  SSL_set_bio(s->ssl, bio, bio);
  X509_VERIFY_PARAM* param = SSL_get0_param(s->ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (IsIpAddress(s->host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, s->host.c_str());
  } else {
    // SSL_set_tlsext_host_name is a macro with an old-style cast.
    SSL_ctrl(s->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, s->host.data());
    X509_VERIFY_PARAM_set1_host(param, s->host.c_str(), 0);
  }
  OfferCachedSession(s);
  ERR_clear_error();
  int rc = SSL_connect(s->ssl);
  if (rc != 1) {
    if (!s->origin.empty()) s->context->sessions.Forget(s->origin);
    return TlsFailure(s, rc, "TLS handshake with");
  }
  X509* peer = SSL_get1_peer_certificate(s->ssl);
  if (peer != nullptr) {
    int len = i2d_X509(peer, nullptr);
    if (len > 0) {
      s->cert_der.resize(static_cast<size_t>(len));
      auto* p = reinterpret_cast<unsigned char*>(s->cert_der.data());
      i2d_X509(peer, &p);
    }
    X509_free(peer);
  }
  long verdict = SSL_get_verify_result(s->ssl);
  if (peer == nullptr || verdict != X509_V_OK) {
    std::string why = peer == nullptr ? "no certificate presented" : X509_verify_cert_error_string(verdict);
    git_error_set_str(GIT_ERROR_SSL, ("TLS certificate of " + s->host + " could not be verified: " + why).c_str());
    return GIT_ECERTIFICATE;
  }
  return 0;
}

int Certificate(git_cert** out, git_stream* stream) {
  TlsStream* s = Self(stream);
  if (s->cert_der.empty()) return SetError("the server " + s->host + " presented no certificate");
  s->cert.parent.cert_type = GIT_CERT_X509;
  s->cert.data = s->cert_der.data();
  s->cert.len = s->cert_der.size();
  *out = &s->cert.parent;
  return 0;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  TlsStream* s = Self(stream);
  ERR_clear_error();
  int n = SSL_read(s->ssl, data, static_cast<int>(std::min<size_t>(len, INT_MAX)));
  if (n > 0) return n;
  if (SSL_get_error(s->ssl, n) == SSL_ERROR_ZERO_RETURN) return 0;
  return TlsFailure(s, n, "TLS read from");
}

ssize_t Write(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  TlsStream* s = Self(stream);
  size_t off = 0;
  while (off < len) {
    ERR_clear_error();
    int n = SSL_write(s->ssl, data + off, static_cast<int>(std::min<size_t>(len - off, INT_MAX)));
    if (n <= 0) return TlsFailure(s, n, "TLS write to");
    off += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(len);
}

int Close(git_stream* stream) {
  TlsStream* s = Self(stream);
  // No close_notify: HTTP/1.1 frames its own messages, and a write to a connection the server
  // already closed would leave a stale socket error for the next failure report on this thread.
  return s->owns_io ? s->io->close(s->io) : 0;
}

void Free(git_stream* stream) {
  TlsStream* s = Self(stream);
  // We send no close_notify (Close), and OpenSSL marks the session of a connection freed
  // without one as not resumable; that is meant for connections ended by a TLS failure, so
  // only those keep the mark (and SessionCache::Get drops their session).
  if (s->ssl != nullptr && !s->tls_failed) SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN);
  if (s->ssl != nullptr) SSL_free(s->ssl);  // frees the BIO too
  if (s->owns_io && s->io != nullptr) s->io->free(s->io);
  delete s;
}

TlsStream* NewTlsStream(git_stream* io, bool owns_io, const char* host) {
  auto* s = new TlsStream();
  s->parent.version = GIT_STREAM_VERSION;
  s->parent.encrypted = 1;
  s->parent.connect = Connect;
  s->parent.certificate = Certificate;
  s->parent.read = Read;
  s->parent.write = Write;
  s->parent.close = Close;
  s->parent.free = Free;
  s->io = io;
  s->owns_io = owns_io;
  s->host = host != nullptr ? host : "";
  return s;
}

int RefuseOffsite(const char* host) {
  return SetError(std::string("refusing to connect to ") + (host != nullptr ? host : "") +
                  ": credentials for this remote are sent with every request, and a redirect must not take "
                  "them to another host");
}

int Init(git_stream** out, const char* host, const char* port) {
  if (!TlsOriginGuard::Allows(host != nullptr ? host : "", std::atoi(port != nullptr ? port : "443"))) {
    return RefuseOffsite(host);
  }
  git_stream* io = nullptr;
  int rc = NewSocketStream(&io, host, port != nullptr ? port : "443");
  if (rc < 0) return rc;
  TlsStream* s = NewTlsStream(io, true, host);
  s->origin = s->host + ":" + (port != nullptr ? port : "443");
  *out = &s->parent;
  return 0;
}

int Wrap(git_stream** out, git_stream* in, const char* host) {
  if (!TlsOriginGuard::Allows(host != nullptr ? host : "", -1)) return RefuseOffsite(host);
  *out = &NewTlsStream(in, false, host)->parent;
  return 0;
}

}  // namespace

Status SetTlsTrust(const std::string& extra_ca_file) {
  auto made = MakeContext(extra_ca_file);
  if (!made.ok()) return made.status();
  std::lock_guard<std::mutex> lock(g_mu);
  g_context = *made;
  return Status::Ok();
}

TlsOriginGuard::TlsOriginGuard(std::string host, int port)
    : host_(std::move(host)), port_(port), previous_(t_guard) {
  t_guard = this;
}

TlsOriginGuard::~TlsOriginGuard() { t_guard = previous_; }

bool TlsOriginGuard::Allows(const std::string& host, int port) {
  TlsOriginGuard* g = t_guard;
  if (g == nullptr || (host == g->host_ && (port < 0 || port == g->port_))) return true;
  g->refused_ = host + ":" + (port < 0 ? std::string("?") : std::to_string(port));
  return false;
}

int InstallTlsStream() {
  git_stream_registration registration{};
  registration.version = GIT_STREAM_VERSION;
  registration.init = Init;
  registration.wrap = Wrap;
  return git_stream_register(GIT_STREAM_TLS, &registration);
}

}  // namespace gitsyncd
