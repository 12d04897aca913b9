#include "sync/remote_auth.h"

#include "sync/socket_stream.h"
#include "sync/tls_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "api/api_answer.h"
#include "config/base64.h"
#include "sync/git_handles.h"
#include "sync/known_hosts.h"
#include "sync/pass_timer.h"

namespace gitsyncd {
namespace {

const char* RawKeyType(git_cert_ssh_raw_type_t t) {
  switch (t) {
    case GIT_CERT_SSH_RAW_TYPE_RSA: return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS: return "ssh-dss";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return "ssh-ed25519";
    default: return "unknown";
  }
}

bool IsSshUrl(const std::string& url) {
  if (url.rfind("ssh://", 0) == 0) return true;
  return url.find("://") == std::string::npos && url.find(':') != std::string::npos;
}

bool IsHttpsUrl(const std::string& url) { return url.rfind("https://", 0) == 0; }

// The HTTPS remotes (URL and user) this process saw ask for credentials, and those that
// redirected elsewhere while they were sent up front (never sent up front again).
std::mutex g_remotes_mu;
std::set<std::string> g_asking, g_redirecting;

std::string RemoteKey(const RemoteCredentials& c) { return c.url + '\n' + c.username; }

bool SendUpFront(const RemoteCredentials& c) {
  if (!IsHttpsUrl(c.url) || c.username.empty() || c.password.empty()) return false;
  std::lock_guard<std::mutex> lock(g_remotes_mu);
  return g_asking.count(RemoteKey(c)) > 0 && g_redirecting.count(RemoteKey(c)) == 0;
}

void NoteAsking(const RemoteCredentials& c, bool asks) {
  std::lock_guard<std::mutex> lock(g_remotes_mu);
  if (asks) {
    g_asking.insert(RemoteKey(c));
  } else {
    g_asking.erase(RemoteKey(c));
  }
}

void NoteRedirecting(const RemoteCredentials& c) {
  std::lock_guard<std::mutex> lock(g_remotes_mu);
  g_redirecting.insert(RemoteKey(c));
}

// host:port of an https URL, with the default port spelled out.
std::string Origin(const std::string& url) {
  std::string host;
  int port = 0;
  ParseHostPort(url, &host, &port);
  return host + ":" + std::to_string(port != 0 ? port : 443);
}

}  // namespace

void ParseHostPort(const std::string& url, std::string* host, int* port) {
  *port = 0;
  std::string rest = url;
  size_t scheme = rest.find("://");
  bool scp = scheme == std::string::npos;
  if (!scp) rest = rest.substr(scheme + 3);
  size_t end = rest.find(scp ? ':' : '/');
  std::string authority = rest.substr(0, end);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  if (!scp) {
    size_t colon = authority.rfind(':');
    size_t bracket = authority.rfind(']');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
      *port = std::atoi(authority.c_str() + colon + 1);
      authority.resize(colon);
    }
  }
  if (authority.size() > 1 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  *host = authority;
}

Status ConfigureTls(const std::string& extra_ca_file) {
  EnsureLibgit2();
  Status trust = SetTlsTrust(extra_ca_file);  // our OpenSSL stream (tls_stream.h)
  if (!trust.ok()) return trust;
  // And libgit2's own mbedTLS, used only if our stream could not be registered. It replaces
  // its trust chain on every call, so the extra CA file and the system CA folder are loaded
  // together in one call.
  const char* system_bundle = "/etc/ssl/certs/ca-certificates.crt";
  int rc = 0;
  if (extra_ca_file.empty()) {
    rc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, system_bundle, nullptr);
    if (rc < 0) return GitError(rc, std::string("cannot load the system CA certificates ") + system_bundle);
    return Status::Ok();
  }
  if (access(extra_ca_file.c_str(), R_OK) != 0) return Status::NotFound("CA file " + extra_ca_file + " cannot be read");
  rc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, extra_ca_file.c_str(), "/etc/ssl/certs");
  if (rc < 0) return GitError(rc, "cannot load CA file " + extra_ca_file);
  return Status::Ok();
}

RemoteAuth::RemoteAuth(RemoteCredentials creds) : creds_(std::move(creds)) {
  ParseHostPort(creds_.url, &host_, &port_);
  if (SendUpFront(creds_)) {
    upfront_ = true;
    header_ = "Authorization: Basic " + Base64Encode(creds_.username + ":" + creds_.password);
    header_ptr_ = header_.data();
    headers_ = {&header_ptr_, 1};
    guard_ = std::make_unique<TlsOriginGuard>(host_, port_ != 0 ? port_ : 443);
  }
}

RemoteAuth::~RemoteAuth() {
  if (guard_ && !guard_->refused().empty()) NoteRedirecting(creds_);
  std::fill(header_.begin(), header_.end(), '\0');
  if (!key_file_.empty()) ::unlink(key_file_.c_str());
}

void RemoteAuth::Install(git_remote_callbacks* callbacks) {
  callbacks->credentials = &RemoteAuth::AcquireCredential;
  callbacks->certificate_check = &RemoteAuth::CheckCertificate;
  callbacks->push_update_reference = &RemoteAuth::OnPushUpdate;
  callbacks->payload = this;
}

int RemoteAuth::AcquireCredential(git_credential** out, const char* url, const char* user_from_url,
                                  unsigned int allowed, void* payload) {
  auto* self = static_cast<RemoteAuth*>(payload);
  std::string user = !self->creds_.username.empty() ? self->creds_.username
                     : user_from_url != nullptr && *user_from_url ? user_from_url
                     : IsSshUrl(self->creds_.url) ? "git" : "";
  if (allowed & GIT_CREDENTIAL_USERNAME) return git_credential_username_new(out, user.c_str());
  // libgit2 asks again after a rejection; a second ask means the credentials are wrong.
  if (++self->attempts_ > 1) {
    self->failure_ = Status::PermissionDenied("authentication failed for user '" + user + "' at " + self->host_ +
                                              " (wrong " + (IsSshUrl(self->creds_.url) ? "SSH key" : "password or token") + "?)");
    git_error_set_str(GIT_ERROR_NET, self->failure_.message().c_str());
    return GIT_EAUTH;
  }
  if (allowed & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY)) {
    if (self->creds_.ssh_private_key.empty()) {
      self->failure_ = Status::PermissionDenied("the server at " + self->host_ + " wants an SSH key and none is configured");
      return GIT_EAUTH;
    }
    int rc = git_credential_ssh_key_memory_new(out, user.c_str(), nullptr, self->creds_.ssh_private_key.c_str(), nullptr);
    if (rc == 0) return 0;
    // libgit2 built without in-memory keys: use a private temp file, removed afterwards.
    if (self->key_file_.empty()) {
      std::string path = "/tmp/gitsyncd-key-XXXXXX";
      int fd = ::mkstemp(path.data());
      if (fd < 0) return GIT_EUSER;
      ::fchmod(fd, 0600);
      const std::string& k = self->creds_.ssh_private_key;
      bool ok = ::write(fd, k.data(), k.size()) == static_cast<ssize_t>(k.size());
      ::close(fd);
      self->key_file_ = path;
      if (!ok) return GIT_EUSER;
    }
    return git_credential_ssh_key_new(out, user.c_str(), nullptr, self->key_file_.c_str(), nullptr);
  }
  if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
    if (IsHttpsUrl(self->creds_.url) && url != nullptr && Origin(url) != Origin(self->creds_.url)) {
      self->failure_ = Status::PermissionDenied(self->creds_.url + " redirected to " + Origin(url) +
                                                ", which asks for credentials: they are given to " +
                                                Origin(self->creds_.url) + " only");
      return GIT_EAUTH;
    }
    if (self->upfront_) {  // the credentials sent with the request were refused
      NoteAsking(self->creds_, false);
      self->failure_ = Status::PermissionDenied("authentication failed for user '" + user + "' at " + self->host_ +
                                                " (wrong password or token?)");
      return GIT_EAUTH;
    }
    NoteAsking(self->creds_, true);
    if (self->creds_.password.empty()) {
      self->failure_ = Status::PermissionDenied(self->host_ + " asks for a password or token and none is configured");
      return GIT_EAUTH;
    }
    return git_credential_userpass_plaintext_new(out, user.c_str(), self->creds_.password.c_str());
  }
  self->failure_ = Status::PermissionDenied(self->host_ + " asks for a kind of credential gitsyncd does not have");
  return GIT_EAUTH;
}

int RemoteAuth::OnPushUpdate(const char* refname, const char* status, void* payload) {
  MarkPassStep("push: pack, send, server's answer");
  if (status != nullptr) {
    static_cast<RemoteAuth*>(payload)->rejected_.push_back(std::string(refname) + ": " + status);
  }
  return 0;
}

int RemoteAuth::CheckCertificate(git_cert* cert, int valid, const char* host, void* payload) {
  auto* self = static_cast<RemoteAuth*>(payload);
  std::string h = host != nullptr ? host : self->host_;
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    auto* hk = reinterpret_cast<git_cert_hostkey*>(cert);
    if (!(hk->type & GIT_CERT_SSH_RAW)) {
      self->failure_ = Status::PermissionDenied("SSH server " + h + " sent no host key to check");
      return GIT_ECERTIFICATE;
    }
    if (self->creds_.known_hosts_file.empty()) {
      self->failure_ = Status::PermissionDenied("no known_hosts file configured; refusing to trust SSH host " + h);
      return GIT_ECERTIFICATE;
    }
    std::string blob(hk->hostkey, hk->hostkey_len);
    const char* type = RawKeyType(hk->raw_type);
    auto check = CheckHostKey(self->creds_.known_hosts_file, h, self->port_ == 0 ? 22 : self->port_, type, blob);
    if (!check.ok()) {
      self->failure_ = Status::PermissionDenied(check.status().message());
      return GIT_ECERTIFICATE;
    }
    std::string shown = self->port_ == 0 || self->port_ == 22 ? h : "[" + h + "]:" + std::to_string(self->port_);
    switch (check->verdict) {
      case HostKeyVerdict::kMatch: return 0;
      case HostKeyVerdict::kUnknownHost:
        self->failure_ = Status::PermissionDenied("unknown SSH host key for " + shown + " (" + type + " " +
                                                  check->fingerprint + "): not in " + self->creds_.known_hosts_file);
        return GIT_ECERTIFICATE;
      case HostKeyVerdict::kChanged:
        self->failure_ = Status::PermissionDenied("SSH host key for " + shown + " CHANGED (now " + type + " " +
                                                  check->fingerprint + ", not the one in " +
                                                  self->creds_.known_hosts_file + "); refusing to connect");
        return GIT_ECERTIFICATE;
      case HostKeyVerdict::kRevoked:
        self->failure_ = Status::PermissionDenied("SSH host key for " + shown + " is marked @revoked in " +
                                                  self->creds_.known_hosts_file);
        return GIT_ECERTIFICATE;
    }
  }
  if (valid) return 0;
  self->failure_ = Status::PermissionDenied("TLS certificate of " + h +
                                            " could not be verified (unknown CA or wrong host name; set ca_file "
                                            "in gitsyncd.yaml for a private CA)");
  return GIT_ECERTIFICATE;
}

Status RemoteAuth::Explain(int rc, const std::string& context) const {
  if (!failure_.ok()) return failure_.WithContext(context);
  if (guard_ && !guard_->refused().empty()) {
    return Status::PermissionDenied(context + ": " + creds_.url + " redirected to " + guard_->refused() +
                                    "; the credentials sent with every request to this remote go to " +
                                    Origin(creds_.url) + " only, so the connection was refused (the next "
                                    "pass sends them only when asked, and never to another host)");
  }
  std::string where = host_ + (port_ ? ":" + std::to_string(port_) : "");
  if (std::string socket_error = TakeSocketError(); !socket_error.empty()) {
    return Status::Unavailable(context + ": could not reach " + where + " (" + socket_error + ")");
  }
  Status s = GitError(rc, context);
  const std::string& m = s.message();
  auto has = [&](const char* needle) { return m.find(needle) != std::string::npos; };
  if (has("failed to connect") || has("Connection refused") || has("failed to resolve") || has("timed out") ||
      has("failed to start SSH session") || has("unexpected EOF") || has("connection") ) {
    return Status::Unavailable(context + ": could not reach " + host_ + (port_ ? ":" + std::to_string(port_) : "") +
                               " (" + m.substr(context.size() + 2) + ")");
  }
  if (has("status code: 401") || has("authentication required") || has("Authentication failed") ||
      has("too many redirects or authentication replays")) {
    return Status::PermissionDenied(context + ": authentication failed for user '" + creds_.username + "' at " + host_);
  }
  if (has("status code: 404") || has("not found") || has("does not appear to be a git repository")) {
    return Status::NotFound(context + ": no such repository at " + creds_.url);
  }
  if (has("certificate") || has("SSL") || has("TLS")) {
    return Status::PermissionDenied(context + ": TLS failure talking to " + host_ + " (" + m.substr(context.size() + 2) + ")");
  }
  return s;
}

}  // namespace gitsyncd
