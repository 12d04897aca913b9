#include "sync/socket_stream.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "api/io_cancel.h"

namespace gitsyncd {
namespace {

std::atomic<long long> g_connect_ms{15000};
std::atomic<long long> g_io_ms{120000};

// Laid out like libgit2's own git_socket_stream (src/libgit2/streams/socket.h, unchanged
// from 0.28 to 1.6): its SSH transport reads the socket descriptor out of the standard stream
// at this offset to hand it to libssh2. Installed only for those versions (see below).
struct SocketStream {
  git_stream parent;  // first member: libgit2 hands us back this pointer
  char* host = nullptr;
  char* port = nullptr;
  int fd = -1;
  // Beyond libgit2's layout: the worker's cancel token (api/io_cancel.h), or null.
  std::shared_ptr<IoCancel> cancel;
};

SocketStream* Self(git_stream* s) { return reinterpret_cast<SocketStream*>(s); }

thread_local std::string t_last_error;

int Fail(const std::string& message) {
  t_last_error = message;
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

bool Cancelled(const SocketStream* s) { return s->cancel && s->cancel->cancelled(); }

std::string CancelledMessage(const SocketStream* s) {
  return "connection to " + std::string(s->host) + ":" + s->port + " cancelled: gitsyncd is stopping or reloading";
}

std::string NoDataMessage(const SocketStream* s) {
  return "no data from " + std::string(s->host) + ":" + s->port + " for " + std::to_string(g_io_ms.load() / 1000) + " s";
}

// The engine's idle check (IoCancel::ShutdownIdle) shut the socket down: that is the cause to
// report, not the end of file it produced (over SSH, libssh2 only says the socket closed).
bool ShutForIdleness(const SocketStream* s, int fd) { return s->cancel && s->cancel->TakeIdleShutdown(fd); }

void CloseFd(SocketStream* s, int fd) {
  if (ShutForIdleness(s, fd)) Fail(NoDataMessage(s));
  if (s->cancel) s->cancel->RemoveSocket(fd);
  ::close(fd);
}

// Waits until `fd` is ready for `events` within the timeout; false on timeout (ETIMEDOUT),
// cancellation (ECANCELED) or error. Polls in slices so a cancel is noticed at once.
bool WaitReady(const IoCancel* cancel, int fd, short events, long long timeout_ms) {
  pollfd p{fd, events, 0};
  for (long long left = timeout_ms;;) {
    if (cancel != nullptr && cancel->cancelled()) {
      errno = ECANCELED;
      return false;
    }
    int slice = static_cast<int>(std::min<long long>(left, 200));
    int rc = ::poll(&p, 1, slice);
    if (rc > 0) break;
    if (rc < 0 && errno != EINTR) return false;
    if (rc == 0 && (left -= slice) <= 0) {
      errno = ETIMEDOUT;
      return false;
    }
  }
  if (cancel != nullptr && cancel->cancelled()) {
    errno = ECANCELED;
    return false;
  }
  return true;
}

void Discard(IoCancel* cancel, int fd) {
  int saved = errno;
  if (cancel != nullptr) cancel->RemoveSocket(fd);
  ::close(fd);
  errno = saved;
}

int ConnectOne(IoCancel* cancel, const addrinfo* ai, long long timeout_ms) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) return -1;
  if (cancel != nullptr) cancel->AddSocket(fd);
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS || !WaitReady(cancel, fd, POLLOUT, timeout_ms)) {
      Discard(cancel, fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      Discard(cancel, fd);
      return -1;
    }
  }
  // Blocking from here on (libssh2 expects it), with kernel timeouts on every read/write.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(g_io_ms.load() / 1000), static_cast<suseconds_t>((g_io_ms.load() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Connects to the first address of host:port that answers; the descriptor, or -1 with the
// reason set (Fail).
int ConnectAny(IoCancel* cancel, const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) return Fail("failed to resolve address for " + host + ": " + ::gai_strerror(rc));
  int fd = -1, last_errno = 0;
  for (addrinfo* ai = list; ai && fd < 0 && last_errno != ECANCELED; ai = ai->ai_next) {
    fd = ConnectOne(cancel, ai, g_connect_ms.load());
    if (fd < 0) last_errno = errno;
  }
  ::freeaddrinfo(list);
  if (fd >= 0) return fd;
  if (cancel != nullptr && cancel->cancelled()) {
    return Fail("connection to " + host + ":" + port + " cancelled: gitsyncd is stopping or reloading");
  }
  return Fail("failed to connect to " + host + ":" + port + ": " +
              (last_errno == ETIMEDOUT ? "timed out after " + std::to_string(g_connect_ms.load()) + " ms"
                                       : std::string(std::strerror(last_errno))));
}

int Connect(git_stream* stream) {
  SocketStream* s = Self(stream);
  s->fd = ConnectAny(s->cancel.get(), s->host, s->port);
  return s->fd < 0 ? -1 : 0;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  SocketStream* s = Self(stream);
  for (;;) {
    ssize_t n = ::recv(s->fd, data, len, 0);
    if (Cancelled(s)) {  // the socket was shut down under the read
      Fail(CancelledMessage(s));
      return -1;
    }
    if (n <= 0 && ShutForIdleness(s, s->fd)) {
      Fail(NoDataMessage(s));
      return -1;
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {  // SO_RCVTIMEO expired
      Fail(NoDataMessage(s));
      return -1;
    }
    Fail("error reading from " + std::string(s->host) + ":" + s->port + ": " + std::strerror(errno));
    return -1;
  }
}

ssize_t Write(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  SocketStream* s = Self(stream);
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::send(s->fd, data + off, len - off, MSG_NOSIGNAL);
    if (Cancelled(s)) {
      Fail(CancelledMessage(s));
      return -1;
    }
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    Fail("error writing to " + std::string(s->host) + ":" + s->port + ": " +
         std::strerror(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno));
    return -1;
  }
  return static_cast<ssize_t>(len);
}

int Close(git_stream* stream) {
  SocketStream* s = Self(stream);
  if (s->fd >= 0) CloseFd(s, s->fd);
  s->fd = -1;
  return 0;
}

void Free(git_stream* stream) {
  Close(stream);
  SocketStream* s = Self(stream);
  std::free(s->host);
  std::free(s->port);
  delete s;
}

// Fills libgit2's git_stream table, as every stream does (tls_stream.cpp fills its own).
int New(git_stream** out, const char* host, const char* port) {
  t_last_error.clear();
  auto* s = new SocketStream();
  s->parent.version = GIT_STREAM_VERSION;
  s->parent.connect = Connect;
  s->parent.read = Read;
  s->parent.write = Write;
  s->parent.close = Close;
  s->parent.free = Free;
  s->host = ::strdup(host);
  s->port = ::strdup(port ? port : "443");
  s->cancel = CurrentIoCancel();
  *out = &s->parent;
  return 0;
}

}  // namespace

int NewSocketStream(git_stream** out, const char* host, const char* port) { return New(out, host, port); }

int ConnectTcpSocket(const std::string& host, const std::string& port) {
  t_last_error.clear();
  std::shared_ptr<IoCancel> cancel = CurrentIoCancel();
  int fd = ConnectAny(cancel.get(), host, port);
  if (fd >= 0 && cancel) cancel->RemoveSocket(fd);  // the caller watches it for as long as it uses it
  return fd;
}

std::chrono::milliseconds SocketIoTimeout() { return std::chrono::milliseconds(g_io_ms.load()); }

void NoteSocketError(const std::string& message) { t_last_error = message; }

std::string TakeSocketError() { return std::exchange(t_last_error, std::string()); }

void SetSocketStreamOptions(const SocketStreamOptions& options) {
  g_connect_ms = options.connect_timeout.count();
  g_io_ms = options.io_timeout.count();
}

int InstallSocketStream() {
#if LIBGIT2_VER_MAJOR != 1 || LIBGIT2_VER_MINOR > 6
  return 0;  // newer libgit2 has its own timeouts and another socket layout: keep its stream
#endif
  git_stream_registration registration{};
  registration.version = GIT_STREAM_VERSION;
  registration.init = New;
  return git_stream_register(GIT_STREAM_STANDARD, &registration);
}

}  // namespace gitsyncd
