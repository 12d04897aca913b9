#include "sync/ssh_transport.h"

#include <git2.h>
#include <git2/sys/credential.h>
#include <git2/sys/transport.h>
#include <libssh2.h>
#include <openssl/sha.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "api/io_cancel.h"
#include "sync/git_handles.h"
#include "sync/pass_timer.h"
#include "sync/remote_auth.h"
#include "sync/socket_stream.h"
#include "sync/ssh_session_pool.h"

namespace gitsyncd {
namespace {

// The credentials libgit2's callback hands over are ours to free.
using CredentialPtr = GitPtr<git_credential, git_credential_free>;

constexpr size_t kMaxStderr = 4096;  // of a failing remote command's stderr, for the message

// What an SSH URL names: ssh://[user@]host[:port]/path or [user@]host:path.
struct Target {
  std::string host, port, user, path;
  std::string where() const { return host + ":" + port; }
};

std::string PercentDecoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool ParseTarget(const std::string& url, Target* t) {
  int port = 0;
  ParseHostPort(url, &t->host, &port);
  t->port = std::to_string(port != 0 ? port : 22);
  size_t scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  size_t end = rest.find(scheme == std::string::npos ? ':' : '/');
  if (end == std::string::npos) return false;
  if (scheme == std::string::npos && rest[0] == '[') end = rest.find(':', rest.find(']'));
  std::string authority = rest.substr(0, end);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) t->user = PercentDecoded(authority.substr(0, at));
  if (scheme == std::string::npos) {
    t->path = rest.substr(end + 1);
  } else {
    t->path = PercentDecoded(rest.substr(end));
    if (t->path.rfind("/~", 0) == 0) t->path.erase(0, 1);  // ssh://host/~user/repo is ~user/repo
  }
  return !t->host.empty() && !t->path.empty() && t->path.find('\0') == std::string::npos;
}

// The remote command, its path quoted for the server's shell.
std::string Command(const char* program, const std::string& path) {
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return std::string(program) + " " + quoted + "'";
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// The pool key: the remote, the user and a digest of the private key (never the key).
std::string PoolKey(const Target& t, const git_credential* cred) {
  auto* key = reinterpret_cast<const git_credential_ssh_key*>(cred);
  std::string material = key->privatekey != nullptr ? key->privatekey : "";
  if (cred->credtype == GIT_CREDENTIAL_SSH_KEY) {  // a path: the file's content says who we are
    std::ifstream in(material);
    std::stringstream text;
    text << in.rdbuf();
    material = text.str();
  }
  material += '\n';
  material += key->passphrase != nullptr ? key->passphrase : "";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  std::fill(material.begin(), material.end(), '\0');
  return t.where() + "\n" + t.user + "\n" + Hex(digest, sizeof digest);
}

bool SessionLevel(int code) {
  switch (code) {
    case LIBSSH2_ERROR_CHANNEL_FAILURE:
    case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
    case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
    case LIBSSH2_ERROR_CHANNEL_CLOSED:
    case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
    case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
      return false;  // this channel failed; the connection under it is fine
    default:
      return true;
  }
}

// The session lent to one operation: its socket is watched by the worker's cancel token and
// every blocking libssh2 call is bounded by the I/O timeout.
class Lease {
 public:
  Lease(std::unique_ptr<SshSession> s, Target target)
      : s_(std::move(s)), target_(std::move(target)), cancel_(CurrentIoCancel()) {
    if (cancel_) cancel_->AddSocket(s_->fd);
    if (s_->session != nullptr) libssh2_session_set_timeout(s_->session, static_cast<long>(SocketIoTimeout().count()));
  }
  ~Lease() {
    if (!s_) return;
    if (cancel_) {
      if (cancel_->TakeIdleShutdown(s_->fd) || cancel_->cancelled()) s_->broken = true;
      cancel_->RemoveSocket(s_->fd);
    }
    ReturnSshSession(std::move(s_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  SshSession* get() const { return s_.get(); }
  const Target& target() const { return target_; }

  // A failed connection is shut down first, so freeing its channel and session (which may
  // try to say goodbye) cannot wait on a stalled server again.
  void ShutIfBroken() {
    if (s_->broken) ::shutdown(s_->fd, SHUT_RDWR);
  }

  // After a failed libssh2 call: records why for the caller (libgit2's error, and for a
  // failure of the connection itself the socket error RemoteAuth::Explain reports first).
  int Fail(const std::string& what) {
    char* text = nullptr;
    int code = s_->session != nullptr ? libssh2_session_last_error(s_->session, &text, nullptr, 0) : 0;
    std::string detail = text != nullptr && *text ? text : "error " + std::to_string(code);
    if (SessionLevel(code)) s_->broken = true;
    std::string where = target_.where();
    if (cancel_ && cancel_->cancelled()) {
      NoteSocketError("connection to " + where + " cancelled: gitsyncd is stopping or reloading");
    } else if (code == LIBSSH2_ERROR_TIMEOUT || (cancel_ && cancel_->TakeIdleShutdown(s_->fd))) {
      s_->broken = true;
      NoteSocketError("no data from " + where + " for " + std::to_string(SocketIoTimeout().count() / 1000) + " s");
    } else if (code == LIBSSH2_ERROR_SOCKET_DISCONNECT || code == LIBSSH2_ERROR_SOCKET_RECV ||
               code == LIBSSH2_ERROR_SOCKET_SEND) {
      NoteSocketError("connection to " + where + " lost: " + detail);
    }
    git_error_set_str(GIT_ERROR_SSH, (what + ": " + detail).c_str());
    return -1;
  }
  // Whether a failure may be cured by a new session: the connection dropped, not stalled.
  bool Retriable() const {
    int code = s_->session != nullptr ? libssh2_session_last_errno(s_->session) : 0;
    return s_->broken && code != LIBSSH2_ERROR_TIMEOUT && !(cancel_ && cancel_->cancelled());
  }

 private:
  std::unique_ptr<SshSession> s_;
  Target target_;
  std::shared_ptr<IoCancel> cancel_;
};

struct Subtransport;

struct Stream {
  git_smart_subtransport_stream parent;  // first member: libgit2 hands back this pointer
  Subtransport* owner = nullptr;
  std::unique_ptr<Lease> lease;
  LIBSSH2_CHANNEL* channel = nullptr;
  std::string command;
};

struct Subtransport {
  git_smart_subtransport parent;  // first member
  git_transport* transport = nullptr;
  Stream* current = nullptr;
};

// The server's host key, recorded with the session and given to the certificate callback.
void RecordHostKey(SshSession* s) {
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(s->session, &len, &type);
  git_cert_hostkey& c = s->cert;
  c.parent.cert_type = GIT_CERT_HOSTKEY_LIBSSH2;
  if (key == nullptr) return;
  s->host_key.assign(key, len);
  c.type = GIT_CERT_SSH_RAW;
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: c.raw_type = GIT_CERT_SSH_RAW_TYPE_RSA; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: c.raw_type = GIT_CERT_SSH_RAW_TYPE_DSS; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: c.raw_type = GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: c.raw_type = GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: c.raw_type = GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: c.raw_type = GIT_CERT_SSH_RAW_TYPE_KEY_ED25519; break;
    default: c.raw_type = GIT_CERT_SSH_RAW_TYPE_UNKNOWN;
  }
  if (const char* h = libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256)) {
    c.type = static_cast<git_cert_ssh_t>(c.type | GIT_CERT_SSH_SHA256);
    std::memcpy(c.hash_sha256, h, sizeof c.hash_sha256);
  }
  if (const char* h = libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA1)) {
    c.type = static_cast<git_cert_ssh_t>(c.type | GIT_CERT_SSH_SHA1);
    std::memcpy(c.hash_sha1, h, sizeof c.hash_sha1);
  }
}

// The operation's certificate callback decides, for a new session and for every reuse.
int CheckHostKey(Subtransport* t, Lease* lease) {
  SshSession* s = lease->get();
  s->cert.hostkey = s->host_key.data();
  s->cert.hostkey_len = s->host_key.size();
  int rc = git_transport_smart_certificate_check(t->transport, &s->cert.parent, 0, lease->target().host.c_str());
  if (rc == GIT_PASSTHROUGH) rc = 0;
  if (rc < 0 && git_error_last() == nullptr) git_error_set_str(GIT_ERROR_SSH, "SSH host key refused");
  return rc;
}

int Authenticate(Subtransport* t, Lease* lease, const git_credential* cred) {
  SshSession* s = lease->get();
  auto* key = reinterpret_cast<const git_credential_ssh_key*>(cred);
  const std::string& user = lease->target().user;
  int rc = 0;
  if (cred->credtype == GIT_CREDENTIAL_SSH_MEMORY) {
    rc = libssh2_userauth_publickey_frommemory(s->session, user.data(), user.size(), key->publickey,
                                               key->publickey != nullptr ? std::strlen(key->publickey) : 0,
                                               key->privatekey, std::strlen(key->privatekey), key->passphrase);
  } else {
    rc = libssh2_userauth_publickey_fromfile_ex(s->session, user.data(), static_cast<unsigned>(user.size()),
                                                key->publickey, key->privatekey, key->passphrase);
  }
  if (rc == 0) {
    s->authenticated = true;
    return 0;
  }
  if (rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED && rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED &&
      rc != LIBSSH2_ERROR_PASSWORD_EXPIRED && rc != LIBSSH2_ERROR_FILE) {
    return lease->Fail("SSH authentication with " + lease->target().where() + " failed");
  }
  // Refused: ask again, as libgit2 does; the callback says what a second ask means.
  git_credential* again = nullptr;
  int asked = git_transport_smart_credentials(&again, t->transport, user.c_str(),
                                              GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY);
  CredentialPtr unused(again);  // only the answer counts: the callback says what a second ask means
  if (asked < 0) return asked;
  git_error_set_str(GIT_ERROR_SSH, ("SSH key refused by " + lease->target().where()).c_str());
  return GIT_EAUTH;
}

// A new connection: TCP, key exchange, host key check, login.
int OpenSession(Subtransport* t, const Target& target, const std::string& key, const git_credential* cred,
                std::unique_ptr<Lease>* out) {
  int fd = ConnectTcpSocket(target.host, target.port);
  if (fd < 0) return -1;  // the socket stream set libgit2's error and the socket error
  auto lease = std::make_unique<Lease>(std::make_unique<SshSession>(key, fd), target);
  SshSession* s = lease->get();
  s->session = libssh2_session_init();
  if (s->session == nullptr) {
    git_error_set_str(GIT_ERROR_SSH, "failed to start SSH session: out of memory");
    return -1;
  }
  libssh2_session_set_blocking(s->session, 1);
  libssh2_session_set_timeout(s->session, static_cast<long>(SocketIoTimeout().count()));
  if (libssh2_session_handshake(s->session, fd) != 0) {
    lease->Fail("failed to start SSH session with " + target.where());
    s->broken = true;
    return -1;
  }
  RecordHostKey(s);
  if (int rc = CheckHostKey(t, lease.get()); rc < 0) {
    s->broken = true;  // never lent: its key was refused
    return rc;
  }
  if (int rc = Authenticate(t, lease.get(), cred); rc < 0) {
    s->broken = true;
    return rc;
  }
  *out = std::move(lease);
  return 0;
}

// The exec channel running `command`; -1 with the session marked when the connection failed.
int OpenChannel(Lease* lease, const std::string& command, LIBSSH2_CHANNEL** out) {
  SshSession* s = lease->get();
  LIBSSH2_CHANNEL* channel = libssh2_channel_open_session(s->session);
  if (channel == nullptr) return lease->Fail("cannot open an SSH channel to " + lease->target().where());
  if (libssh2_channel_exec(channel, command.c_str()) != 0) {
    int rc = lease->Fail("SSH could not run " + command + " on " + lease->target().where());
    lease->ShutIfBroken();
    libssh2_channel_free(channel);
    return rc;
  }
  *out = channel;
  return 0;
}

int StreamRead(git_smart_subtransport_stream* stream, char* buffer, size_t size, size_t* bytes_read) {
  auto* s = reinterpret_cast<Stream*>(stream);
  *bytes_read = 0;
  ssize_t n = libssh2_channel_read(s->channel, buffer, size);
  if (n < 0) return s->lease->Fail("SSH could not read data from " + s->lease->target().where());
  if (n == 0) {
    // No output: the command failed (no such repository, no git on the server): its stderr says why.
    std::string err(kMaxStderr, '\0');
    ssize_t e = libssh2_channel_read_stderr(s->channel, err.data(), err.size());
    if (e > 0) {
      err.resize(static_cast<size_t>(e));
      while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
      git_error_set_str(GIT_ERROR_SSH, err.c_str());
      return GIT_EEOF;
    }
  }
  *bytes_read = static_cast<size_t>(n);
  return 0;
}

int StreamWrite(git_smart_subtransport_stream* stream, const char* buffer, size_t len) {
  auto* s = reinterpret_cast<Stream*>(stream);
  for (size_t done = 0; done < len;) {
    ssize_t n = libssh2_channel_write(s->channel, buffer + done, len - done);
    if (n < 0) return s->lease->Fail("SSH could not write data to " + s->lease->target().where());
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Ends the command (end of its input, then the channel's close, answered by the server once
// the command exited) so the session is clean for the next operation.
void StreamFree(git_smart_subtransport_stream* stream) {
  auto* s = reinterpret_cast<Stream*>(stream);
  if (s->owner->current == s) s->owner->current = nullptr;
  if (s->channel != nullptr) {
    SshSession* session = s->lease->get();
    if (!session->broken && (libssh2_channel_send_eof(s->channel) != 0 || libssh2_channel_close(s->channel) != 0)) {
      session->broken = true;
    }
    s->lease->ShutIfBroken();
    if (libssh2_channel_free(s->channel) != 0) session->broken = true;
    MarkPassStep("ssh: channel close");
  }
  delete s;  // the lease returns the session to the pool
}

// Lends a session for `key` (pooled, else new) and opens the command's channel on it. A
// pooled session whose connection turns out dead is dropped and a new one opened, once.
int OpenStream(Subtransport* t, const Target& target, const std::string& key, const git_credential* cred,
               Stream* stream) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<SshSession> pooled = attempt == 0 ? TakeSshSession(key) : nullptr;
    bool reused = pooled != nullptr;
    std::unique_ptr<Lease> lease;
    if (reused) {
      lease = std::make_unique<Lease>(std::move(pooled), target);
      if (int rc = CheckHostKey(t, lease.get()); rc < 0) return rc;
    } else if (int rc = OpenSession(t, target, key, cred, &lease); rc < 0) {
      return rc;
    }
    MarkPassStep(reused ? "ssh: pooled session" : "ssh: new session");
    int rc = OpenChannel(lease.get(), stream->command, &stream->channel);
    MarkPassStep("ssh: channel exec");
    if (rc == 0) {
      stream->lease = std::move(lease);
      return 0;
    }
    if (!reused || !lease->Retriable()) return rc;
    TakeSocketError();  // cured by the new session, not to be reported
    git_error_clear();
  }
}

int NewStream(Subtransport* t, const char* url, const char* program, git_smart_subtransport_stream** out) {
  Target target;
  if (!ParseTarget(url, &target)) {
    git_error_set_str(GIT_ERROR_NET, (std::string("malformed SSH remote URL: ") + url).c_str());
    return -1;
  }
  git_credential* cred = nullptr;
  if (target.user.empty()) {  // as libgit2: the URL's user, else the callback's
    int rc = git_transport_smart_credentials(&cred, t->transport, nullptr, GIT_CREDENTIAL_USERNAME);
    if (rc < 0) return rc;
    CredentialPtr name(cred);
    target.user = git_credential_get_username(name.get());
  }
  int rc = git_transport_smart_credentials(&cred, t->transport, target.user.c_str(),
                                           GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY);
  if (rc < 0) return rc;
  CredentialPtr owned(cred);
  if (cred->credtype != GIT_CREDENTIAL_SSH_KEY && cred->credtype != GIT_CREDENTIAL_SSH_MEMORY) {
    git_error_set_str(GIT_ERROR_SSH, "the credential callback gave no SSH key");
    return GIT_EAUTH;
  }
  auto stream = std::make_unique<Stream>();
  stream->parent.subtransport = &t->parent;
  stream->parent.read = StreamRead;
  stream->parent.write = StreamWrite;
  stream->parent.free = StreamFree;
  stream->owner = t;
  stream->command = Command(program, target.path);
  if (rc = OpenStream(t, target, PoolKey(target, cred), cred, stream.get()); rc < 0) return rc;
  t->current = stream.release();
  *out = &t->current->parent;
  return 0;
}

int Action(git_smart_subtransport_stream** out, git_smart_subtransport* transport, const char* url,
           git_smart_service_t action) {
  auto* t = reinterpret_cast<Subtransport*>(transport);
  *out = nullptr;
  switch (action) {
    case GIT_SERVICE_UPLOADPACK_LS: return NewStream(t, url, "git-upload-pack", out);
    case GIT_SERVICE_RECEIVEPACK_LS: return NewStream(t, url, "git-receive-pack", out);
    case GIT_SERVICE_UPLOADPACK:
    case GIT_SERVICE_RECEIVEPACK:
      // The same command goes on (stateful protocol); closing asks for UPLOADPACK to say goodbye.
      if (t->current == nullptr) return -1;
      *out = &t->current->parent;
      return 0;
  }
  return -1;
}

int Close(git_smart_subtransport*) { return 0; }

void Free(git_smart_subtransport* transport) { delete reinterpret_cast<Subtransport*>(transport); }

// Fills libgit2's subtransport table, as receive_pack.cpp does for its own (different) type.
int NewSubtransport(git_smart_subtransport** out, git_transport* owner, void*) {
  auto* t = new Subtransport{};
  t->parent.action = Action;
  t->parent.close = Close;
  t->parent.free = Free;
  t->transport = owner;
  *out = &t->parent;
  return 0;
}

int NewTransport(git_transport** out, git_remote* owner, void*) {
  // Stateful (rpc = 0): the advertisement and the request share one command.
  static git_smart_subtransport_definition definition = {NewSubtransport, 0, nullptr};
  return git_transport_smart(out, owner, &definition);
}

}  // namespace

int InstallSshTransport() {
  int rc = 0;
  for (const char* scheme : {"ssh", "ssh+git", "git+ssh"}) {
    if (int r = git_transport_register(scheme, NewTransport, nullptr); r < 0) rc = r;
  }
  return rc;
}

}  // namespace gitsyncd
