#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

DaemonProcess::DaemonProcess(const std::string& binary, const std::string& config_dir, const std::string& work_dir,
                             std::map<std::string, std::string> env) {
  log_file_ = work_dir + "/daemon.log";
  socket_path_ = work_dir + "/notify.sock";
  ::unlink(socket_path_.c_str());
  notify_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof addr.sun_path - 1);
  if (::bind(notify_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot bind notify socket " + socket_path_);
  }
  env["NOTIFY_SOCKET"] = socket_path_;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (env.count("JOURNAL_STREAM") != 0 && env.at("JOURNAL_STREAM") == "stderr") {
      // As systemd does for StandardError=journal: name the stream the daemon writes to.
      struct stat st {};
      ::fstat(2, &st);
      ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
    }
    ::execl(binary.c_str(), binary.c_str(), "--config", config_dir.c_str(), "run", static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (notify_fd_ >= 0) ::close(notify_fd_);
  ::unlink(socket_path_.c_str());
}

void DaemonProcess::Drain(int timeout_ms) {
  pollfd p{notify_fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(notify_fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    notes_.emplace_back(buf, static_cast<size_t>(n));
    times_.push_back(std::chrono::steady_clock::now());
  }
}

void DaemonProcess::Collect(std::chrono::milliseconds duration) {
  auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) Drain(100);
}

bool DaemonProcess::WaitForNotify(const std::string& what, std::chrono::milliseconds timeout) {
  return WaitForNotifyAfter(0, what, timeout);
}

bool DaemonProcess::WaitForNotifyAfter(size_t seen, const std::string& what, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (size_t i = seen; i < notes_.size(); ++i) {
      if (notes_[i].find(what) != std::string::npos) return true;
    }
    if (std::chrono::steady_clock::now() >= end) return false;
    Drain(100);
  }
}

void DaemonProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void DaemonProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int DaemonProcess::Wait(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      Drain(0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    Drain(50);
  }
  return -1;
}

std::string DaemonProcess::Log() const { return FileExists(log_file_) ? ReadFile(log_file_) : ""; }

}  // namespace gitsyncd::testing
