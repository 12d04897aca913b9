// Credentials and server identity checks for every libgit2 network operation.
// HTTPS: user + password/token; the TLS certificate must verify (system CAs plus the optional
// extra CA file). SSH: private key from the secret store; the host key must be in the
// connector's known_hosts file, an unknown or changed key is refused.
#pragma once

#include <git2.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct RemoteCredentials {
  std::string url;               // https://, ssh://, scp-like, or file://
  std::string username;          // HTTPS user; SSH user (default from the URL, else "git")
  std::string password;          // HTTPS password or token (resolved secret)
  std::string ssh_private_key;   // OpenSSH private key text (resolved secret)
  std::string known_hosts_file;  // required for SSH
  std::string api_token;         // provider API token (resolved secret), for fetch: api
};

// Process-wide TLS trust for HTTPS remotes: the system CAs plus `extra_ca_file` (may be empty).
// Certificate verification itself is never turned off.
Status ConfigureTls(const std::string& extra_ca_file);

class TlsOriginGuard;  // sync/tls_stream.h

// Credentials are sent up front (an `Authorization` header with the first request) to an
// HTTPS remote this process saw ask for them (a 401): a pass then costs no 401 round trip.
// Such a header goes with every request of the operation, so while it is set the operation
// may open TLS connections to the remote's own host and port only (TlsOriginGuard): a redirect
// elsewhere fails the operation and turns the header off for that remote. Credentials are
// never given to another host asking for them after a redirect either.
class RemoteAuth {
 public:
  explicit RemoteAuth(RemoteCredentials creds);
  ~RemoteAuth();
  RemoteAuth(const RemoteAuth&) = delete;
  RemoteAuth& operator=(const RemoteAuth&) = delete;

  // Installs the credential and certificate callbacks; this object must outlive the call.
  void Install(git_remote_callbacks* callbacks);
  // The custom headers to give libgit2 with the same call (git_remote_connect, or the fetch or
  // push options): the credentials when they go up front, else none.
  const git_strarray* headers() const { return upfront_ ? &headers_ : nullptr; }

  // After a failed libgit2 call: a Status saying what really happened, from what the
  // callbacks saw (rejected credentials, unknown/changed host key, unverifiable certificate),
  // else from libgit2's own error. Network failures are kUnavailable (worth retrying).
  Status Explain(int rc, const std::string& context) const;

  const RemoteCredentials& credentials() const { return creds_; }
  // Refs the server refused during a push ("refs/heads/x: <reason>"), recorded by Install.
  const std::vector<std::string>& rejected_refs() const { return rejected_; }

 private:
  static int AcquireCredential(git_credential** out, const char* url, const char* user_from_url,
                               unsigned int allowed, void* payload);
  static int CheckCertificate(git_cert* cert, int valid, const char* host, void* payload);
  static int OnPushUpdate(const char* refname, const char* status, void* payload);

  RemoteCredentials creds_;
  std::string host_;
  int port_ = 0;
  int attempts_ = 0;
  bool upfront_ = false;
  std::string header_;      // "Authorization: Basic ..." when upfront_
  char* header_ptr_ = nullptr;
  git_strarray headers_{};
  std::unique_ptr<TlsOriginGuard> guard_;  // while upfront_
  std::string key_file_;  // temp copy of the key when libgit2 lacks in-memory SSH keys
  Status failure_;        // what a callback refused, if anything
  std::vector<std::string> rejected_;
};

// Host and port of a remote URL (port 0 when not given).
void ParseHostPort(const std::string& url, std::string* host, int* port);

}  // namespace gitsyncd
