// The TLS layer under every libgit2 HTTPS remote, on OpenSSL instead of libgit2 1.5's
// built-in mbedTLS (Debian's libgit2 is built with mbedTLS):
//  - a handshake costs about 0.3 ms of CPU instead of about 8 ms (mbedTLS 2.28's ECDHE and
//    ECDSA on P-256; one handshake per fetch or push, see bench/RESULTS.md),
//  - certificates of hosts named by IP address are checked against their IP SANs (mbedTLS
//    matched DNS names only),
//  - trust: the system CAs plus `ca_file`, always verified; a failure is
//    reported to libgit2 as GIT_ECERTIFICATE, so the certificate check callback refuses it.
// It runs over our TCP stream (socket_stream.h) and, for HTTPS proxies, over the proxy's
// CONNECT tunnel.
#pragma once

#include <string>

#include "base/status.h"

namespace gitsyncd {

// Trust for every HTTPS remote opened afterwards: the system CA bundle and folder, plus
// `extra_ca_file` when not empty. An unreadable or invalid file is an error naming it.
Status SetTlsTrust(const std::string& extra_ca_file);

// Registers the stream with libgit2; called once by EnsureLibgit2 after git_libgit2_init.
int InstallTlsStream();

// While one lives, TLS connections this thread opens go to `host`:`port` only: any other (a
// redirect to another host) is refused before it is opened, so headers libgit2 sends with
// every request (credentials sent up front, remote_auth.h) never reach another host.
class TlsOriginGuard {
 public:
  TlsOriginGuard(std::string host, int port);
  ~TlsOriginGuard();
  TlsOriginGuard(const TlsOriginGuard&) = delete;
  TlsOriginGuard& operator=(const TlsOriginGuard&) = delete;
  // "host:port" of a connection refused meanwhile; "" when none was.
  const std::string& refused() const { return refused_; }
  // For the stream: false (and recorded) when this thread's guard forbids `host`:`port`
  // (port -1: not known, the host alone is compared).
  static bool Allows(const std::string& host, int port);

 private:
  std::string host_;
  int port_;
  std::string refused_;
  TlsOriginGuard* previous_;
};

}  // namespace gitsyncd
