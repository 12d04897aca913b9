// Runs `gitsyncd run` as a child process the way systemd would: with NOTIFY_SOCKET pointing at
// a datagram socket this test owns, so READY=1 / WATCHDOG=1 / STOPPING=1 can be asserted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gitsyncd::testing {

// env["JOURNAL_STREAM"] = "stderr" sets JOURNAL_STREAM to the daemon's stderr, as systemd does.
class DaemonProcess {
 public:
  DaemonProcess(const std::string& binary, const std::string& config_dir, const std::string& work_dir,
                std::map<std::string, std::string> env = {});
  ~DaemonProcess();
  // Waits for a notify message containing `what` (e.g. "READY=1"); false on timeout.
  bool WaitForNotify(const std::string& what, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // The same, counting only messages received after the first `seen` ones (e.g. READY=1
  // again after a reload: pass notifications().size() taken before the SIGHUP).
  bool WaitForNotifyAfter(size_t seen, const std::string& what,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void Signal(int sig);
  void Kill();  // SIGKILL, as a crash
  // Waits for exit; returns the exit code, or -1 for a signal death or timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string Log() const;  // the daemon's stderr so far
  const std::vector<std::string>& notifications() const { return notes_; }
  // When each notification arrived (received every 100 ms while a Wait* or Collect runs).
  const std::vector<std::chrono::steady_clock::time_point>& notification_times() const { return times_; }
  // Receives notifications for `duration`.
  void Collect(std::chrono::milliseconds duration);
  pid_t pid() const { return pid_; }

 private:
  void Drain(int timeout_ms);
  pid_t pid_ = -1;
  int notify_fd_ = -1;
  std::string log_file_, socket_path_;
  std::vector<std::string> notes_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

}  // namespace gitsyncd::testing
