#include "api/io_cancel.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include <utility>

namespace gitsyncd {
namespace {

thread_local std::shared_ptr<IoCancel> t_token;

}  // namespace

void IoCancel::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (int fd : sockets_) ::shutdown(fd, SHUT_RDWR);
  cancelled_cv_.notify_all();
}

bool IoCancel::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cancelled_cv_.wait_for(lock, d, [&] { return cancelled_.load(); });
}

void IoCancel::AddSocket(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_.insert(fd);
  if (cancelled_) ::shutdown(fd, SHUT_RDWR);
}

void IoCancel::RemoveSocket(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_.erase(fd);
  idle_shut_.erase(fd);
}

void IoCancel::ShutdownIdle(std::chrono::milliseconds idle) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : sockets_) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (idle_shut_.count(fd) != 0 || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) continue;
    // Only established connections: a connect in progress has its own timeout.
    if (info.tcpi_state != TCP_ESTABLISHED) continue;
    auto quiet = std::min(info.tcpi_last_data_recv, info.tcpi_last_data_sent);
    if (static_cast<long long>(quiet) < idle.count()) continue;
    ::shutdown(fd, SHUT_RDWR);
    idle_shut_.insert(fd);
  }
}

bool IoCancel::TakeIdleShutdown(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_shut_.erase(fd) != 0;
}

std::shared_ptr<IoCancel> CurrentIoCancel() { return t_token; }

bool CancellableSleep(std::chrono::milliseconds d) {
  if (t_token) return t_token->SleepFor(d);
  std::this_thread::sleep_for(d);
  return true;
}

ScopedIoCancel::ScopedIoCancel(std::shared_ptr<IoCancel> token) : previous_(std::exchange(t_token, std::move(token))) {}

ScopedIoCancel::~ScopedIoCancel() { t_token = std::move(previous_); }

}  // namespace gitsyncd
