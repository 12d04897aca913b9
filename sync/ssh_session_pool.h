// SSH sessions kept open between operations, so a pass over SSH costs one exec channel instead
// of a TCP connection, a key exchange and an authentication (sync/ssh_transport.h opens them).
// A libssh2 session is not thread-safe: the pool lends a session whole to one operation at a
// time, and a remote used by several workers at once gets several sessions. Limits: sessions
// idle for `idle_timeout` are closed by the pool's own thread, at most `per_remote` idle
// sessions per key and `total` in all are kept (the oldest idle one goes first).
#pragma once

#include <git2.h>
#include <libssh2.h>

#include <chrono>
#include <memory>
#include <string>

namespace gitsyncd {

// One authenticated connection: a TCP socket and the libssh2 session on it.
struct SshSession {
  SshSession(std::string key, int fd);
  ~SshSession();  // says goodbye to the server (bounded by the I/O timeout), closes the socket
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  std::string key;  // remote and identity it was opened for: "host:port\nuser\n<key digest>"
  int fd = -1;
  LIBSSH2_SESSION* session = nullptr;
  std::string host_key;       // the raw key the server proved it holds, checked on every lease
  git_cert_hostkey cert{};    // the same for the certificate callback (hostkey points into host_key)
  bool authenticated = false;
  bool broken = false;        // the connection itself failed: closed, never lent again
  std::chrono::steady_clock::time_point last_used;
};

struct SshPoolLimits {
  std::chrono::milliseconds idle_timeout{60000};
  size_t per_remote = 4;
  size_t total = 64;
};

// For sessions returned from now on (and the idle ones' timeout at the next sweep).
void SetSshPoolLimits(const SshPoolLimits& limits);

// An idle session opened for `key`, or null (the caller opens a new one).
std::unique_ptr<SshSession> TakeSshSession(const std::string& key);

// Back to the pool when healthy and within the limits; else closed.
void ReturnSshSession(std::unique_ptr<SshSession> session);

// Closes every idle session (at exit).
void CloseIdleSshSessions();

}  // namespace gitsyncd
