// The TCP connection under every libgit2 HTTPS remote (registered as libgit2's standard
// socket stream, which its TLS stream runs over). Ours differs from libgit2 1.5's built-in
// one in three ways that matter to a sync daemon:
//  - TCP_NODELAY: libgit2 writes a request's headers and body separately; with Nagle's
//    algorithm the body then waits for the server's delayed ACK (~40 ms per request on
//    loopback, measured in bench/RESULTS.md).
//  - a connect timeout, and
//  - a read/write timeout, so a remote that stops answering cannot hold a worker forever.
#pragma once

#include <chrono>
#include <string>

#include "base/status.h"

struct git_stream;

namespace gitsyncd {

struct SocketStreamOptions {
  std::chrono::milliseconds connect_timeout{15000};
  std::chrono::milliseconds io_timeout{120000};  // no byte moved for this long = failure
};

// The stream is installed for the whole process when libgit2 is initialised
// (EnsureLibgit2); this changes its timeouts for connections opened afterwards.
void SetSocketStreamOptions(const SocketStreamOptions& options);

// The last connect/read/write failure of a stream opened on this thread, then cleared. A TLS
// stream on top reports such failures as a generic "SSL error"; this keeps the real cause.
std::string TakeSocketError();

// Registers the stream with libgit2; called once by EnsureLibgit2 after git_libgit2_init.
int InstallSocketStream();

// A new, unconnected stream to host:port (what the TLS stream runs over).
int NewSocketStream(git_stream** out, const char* host, const char* port);

// A connected TCP socket to host:port with the same options (blocking, TCP_NODELAY, the
// timeouts above), for a transport that owns its connection (sync/ssh_transport.h). The
// connect watches this thread's cancel token; the caller registers the socket with a token
// while it uses it. -1 on failure, and TakeSocketError() says why.
int ConnectTcpSocket(const std::string& host, const std::string& port);

// The read/write timeout set by SetSocketStreamOptions.
std::chrono::milliseconds SocketIoTimeout();

// Records this thread's last connection failure, as the stream does (TakeSocketError).
void NoteSocketError(const std::string& message);

}  // namespace gitsyncd
