#include "sync/ssh_session_pool.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace gitsyncd {
namespace {

using Clock = std::chrono::steady_clock;

// The idle sessions, oldest first, and the thread that closes the expired ones. Never
// destroyed (a function-local static would be torn down under a late operation at exit);
// CloseIdleSshSessions, run at exit before libgit2 shuts libssh2 down, empties it.
struct Pool {
  std::mutex mu;
  std::condition_variable wake;
  std::list<std::unique_ptr<SshSession>> idle;
  SshPoolLimits limits;
  bool sweeper_started = false;

  static Pool& Get() {
    static Pool* pool = new Pool();
    return *pool;
  }

  // Takes the sessions to close out of the pool (closing does network I/O: outside the lock).
  std::vector<std::unique_ptr<SshSession>> Expired(Clock::time_point now) {
    std::vector<std::unique_ptr<SshSession>> out;
    for (auto it = idle.begin(); it != idle.end();) {
      if (now - (*it)->last_used >= limits.idle_timeout) {
        out.push_back(std::move(*it));
        it = idle.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  void Sweep() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      auto period = std::clamp<std::chrono::milliseconds>(limits.idle_timeout / 4, std::chrono::milliseconds(50),
                                                          std::chrono::milliseconds(5000));
      wake.wait_for(lock, period);
      auto expired = Expired(Clock::now());
      if (expired.empty()) continue;
      lock.unlock();
      expired.clear();  // each destructor disconnects
      lock.lock();
    }
  }

  void StartSweeper() {  // under mu
    if (sweeper_started) return;
    sweeper_started = true;
    std::thread([this] { Sweep(); }).detach();
  }
};

}  // namespace

SshSession::SshSession(std::string k, int f) : key(std::move(k)), fd(f), last_used(Clock::now()) {}

SshSession::~SshSession() {
  if (broken && fd >= 0) ::shutdown(fd, SHUT_RDWR);  // freeing must not wait on a dead server
  if (session != nullptr) {
    if (!broken) libssh2_session_disconnect(session, "gitsyncd: session closed");
    libssh2_session_free(session);
  }
  if (fd >= 0) ::close(fd);
}

void SetSshPoolLimits(const SshPoolLimits& limits) {
  Pool& pool = Pool::Get();
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.limits = limits;
  pool.wake.notify_all();
}

std::unique_ptr<SshSession> TakeSshSession(const std::string& key) {
  Pool& pool = Pool::Get();
  std::unique_ptr<SshSession> found, expired;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    // The most recently used one first: the likeliest to be still open on the server's side.
    for (auto it = pool.idle.rbegin(); it != pool.idle.rend(); ++it) {
      if ((*it)->key != key) continue;
      found = std::move(*it);
      pool.idle.erase(std::next(it).base());
      break;
    }
    if (found && Clock::now() - found->last_used >= pool.limits.idle_timeout) expired = std::move(found);
  }
  return found;  // `expired`, if any, is closed here, outside the lock
}

void ReturnSshSession(std::unique_ptr<SshSession> session) {
  if (!session || session->broken || !session->authenticated) return;  // closed by the destructor
  Pool& pool = Pool::Get();
  std::vector<std::unique_ptr<SshSession>> closing;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    session->last_used = Clock::now();
    size_t same = static_cast<size_t>(std::count_if(pool.idle.begin(), pool.idle.end(),
                                                    [&](const auto& s) { return s->key == session->key; }));
    if (same >= pool.limits.per_remote || pool.limits.total == 0 || pool.limits.per_remote == 0) {
      closing.push_back(std::move(session));
    } else {
      while (pool.idle.size() >= pool.limits.total) {
        closing.push_back(std::move(pool.idle.front()));
        pool.idle.pop_front();
      }
      pool.idle.push_back(std::move(session));
      pool.StartSweeper();
    }
  }
}

void CloseIdleSshSessions() {
  Pool& pool = Pool::Get();
  std::list<std::unique_ptr<SshSession>> closing;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    closing.swap(pool.idle);
  }
}

}  // namespace gitsyncd
