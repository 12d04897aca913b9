#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>

namespace gitsyncd {

void ServiceNotifier::Ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void ServiceNotifier::Status(const std::string& status) { sd_notifyf(0, "STATUS=%s", status.c_str()); }

void ServiceNotifier::Stopping() { sd_notify(0, "STOPPING=1"); }

void ServiceNotifier::Reloading() { sd_notify(0, "RELOADING=1"); }

void ServiceNotifier::WatchdogPing() { sd_notify(0, "WATCHDOG=1"); }

std::chrono::microseconds ServiceNotifier::WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec / 2);
}

}  // namespace gitsyncd
