// What the log lines of the current thread are about: the binding a worker is syncing, its
// connector, the commit involved. Under journald these become the fields GITSYNCD_BINDING,
// GITSYNCD_CONNECTOR and GITSYNCD_COMMIT, so `journalctl GITSYNCD_BINDING=app` finds one binding's
// lines. Empty fields are left out.
#pragma once

#include <string>

namespace gitsyncd {

struct LogContext {
  std::string binding;
  std::string connector;
  std::string commit;
};

// This thread's context (empty outside a pass).
LogContext& CurrentLogContext();

// Sets this thread's context for its lifetime and restores the previous one after.
class ScopedLogContext {
 public:
  ScopedLogContext(std::string binding, std::string connector);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext saved_;
};

}  // namespace gitsyncd
