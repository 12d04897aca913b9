#include "config/log_context.h"

#include <utility>

namespace gitsyncd {

LogContext& CurrentLogContext() {
  thread_local LogContext context;
  return context;
}

ScopedLogContext::ScopedLogContext(std::string binding, std::string connector) : saved_(CurrentLogContext()) {
  CurrentLogContext() = LogContext{std::move(binding), std::move(connector), {}};
}

ScopedLogContext::~ScopedLogContext() { CurrentLogContext() = std::move(saved_); }

}  // namespace gitsyncd
