// Tells systemd how the service is doing (sd_notify): READY=1 once config is loaded and the
// listeners are up, STATUS= summaries, WATCHDOG=1 keep-alives, STOPPING=1 on shutdown.
// Without NOTIFY_SOCKET (not run by systemd) every call is a cheap no-op.
#pragma once

#include <chrono>
#include <string>

namespace gitsyncd {

class ServiceNotifier {
 public:
  void Ready(const std::string& status);
  void Status(const std::string& status);
  void Stopping();
  void Reloading();
  void WatchdogPing();
  // Half the interval systemd expects keep-alives at (WATCHDOG_USEC), or zero when the
  // watchdog is off.
  static std::chrono::microseconds WatchdogInterval();
};

}  // namespace gitsyncd
