#include "sync/pass_timer.h"

#include <cstdio>
#include <cstring>

namespace gitsyncd {
namespace {
PassTimer*& Current() {
  thread_local PassTimer* current = nullptr;
  return current;
}
}  // namespace

PassTimer::PassTimer() : started_(Clock::now()), last_(started_), previous_(Current()) { Current() = this; }

PassTimer::~PassTimer() { Current() = previous_; }

std::string PassTimer::Summary() const {
  std::string out;
  char buf[96];
  for (const auto& [name, ms] : steps_) {
    std::snprintf(buf, sizeof buf, "%s%s %.1f ms", out.empty() ? "" : ", ", name, ms);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, " = %.1f ms",
                std::chrono::duration<double, std::milli>(Clock::now() - started_).count());
  return out + buf;
}

void MarkPassStep(const char* step) {
  PassTimer* t = Current();
  if (t == nullptr) return;
  auto now = PassTimer::Clock::now();
  double ms = std::chrono::duration<double, std::milli>(now - t->last_).count();
  t->last_ = now;
  for (auto& [name, sum] : t->steps_) {
    if (std::strcmp(name, step) == 0) {
      sum += ms;
      return;
    }
  }
  t->steps_.emplace_back(step, ms);
}

}  // namespace gitsyncd
