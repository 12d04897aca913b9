// Where a pass spends its time, for the debug log: each step adds the time since the previous
// mark of the same pass, and the pass logs one line with every step at its end (`pass steps:
// state load 0.2 ms, local changes 0.4 ms, ..., push: connect and refs 12.0 ms, ... = 40.3 ms`).
// A pass installs one for its thread; code deep inside it (the fetch, the push, the SSH
// transport) marks its steps without being handed the timer. Without one installed, a mark
// does nothing.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace gitsyncd {

class PassTimer {
 public:
  PassTimer();
  ~PassTimer();  // uninstalls it (the previous timer of the thread, if any, is current again)
  PassTimer(const PassTimer&) = delete;
  PassTimer& operator=(const PassTimer&) = delete;

  // "step 1.2 ms, other 0.3 ms, ... = 5.0 ms" (the last: since the start), in the order the
  // steps were first marked.
  std::string Summary() const;

 private:
  friend void MarkPassStep(const char* step);
  using Clock = std::chrono::steady_clock;
  Clock::time_point started_, last_;
  std::vector<std::pair<const char*, double>> steps_;  // milliseconds, summed per name
  PassTimer* previous_;
};

// The time since the last mark (or the timer's start) goes to `step` (a string literal).
void MarkPassStep(const char* step);

}  // namespace gitsyncd
