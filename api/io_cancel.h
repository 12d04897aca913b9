// Cancelling a pass's network I/O from another thread. The sync engine installs a token on
// each worker thread (ScopedIoCancel); the TCP streams under libgit2 (sync/socket_stream.h)
// and the provider API client (https_client.h) opened on that thread watch it. Cancel() shuts
// down their sockets, so blocked connects, reads and writes (libssh2's included, which reads
// the socket itself) fail at once: a stop or reload never waits for a silent remote.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>

namespace gitsyncd {

class IoCancel {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Sleeps for `d`, or less when Cancel() comes first; false when cancelled.
  bool SleepFor(std::chrono::milliseconds d);
  // A socket to shut down on Cancel: added once created, removed before it is closed (so a
  // reused descriptor number is never touched). Adding to a cancelled token shuts it at once.
  void AddSocket(int fd);
  void RemoveSocket(int fd);
  // Shuts down each TCP socket on which no data moved either way for `idle` (the kernel's
  // TCP_INFO), so a silent server fails even where libssh2 waits on the socket itself.
  void ShutdownIdle(std::chrono::milliseconds idle);
  // Whether ShutdownIdle shut `fd` down (then forgets it): the reason to report.
  bool TakeIdleShutdown(int fd);

 private:
  std::mutex mu_;
  std::condition_variable cancelled_cv_;
  std::set<int> sockets_;
  std::set<int> idle_shut_;
  std::atomic<bool> cancelled_{false};
};

// The calling thread's token; null when none is installed.
std::shared_ptr<IoCancel> CurrentIoCancel();

// Sleeps for `d` on the calling thread, cut short when its token is cancelled (a stop or
// reload never waits out a backoff or a rate limit); false when cancelled.
bool CancellableSleep(std::chrono::milliseconds d);

// Installs `token` on this thread for the scope's life.
class ScopedIoCancel {
 public:
  explicit ScopedIoCancel(std::shared_ptr<IoCancel> token);
  ~ScopedIoCancel();
  ScopedIoCancel(const ScopedIoCancel&) = delete;
  ScopedIoCancel& operator=(const ScopedIoCancel&) = delete;

 private:
  std::shared_ptr<IoCancel> previous_;
};

}  // namespace gitsyncd
