// Polls a condition until it holds or a time limit passes (tests wait for effects of another
// process or thread this way, bounded, never with a fixed sleep).
#pragma once

#include <chrono>
#include <thread>

namespace gitsyncd::testing {

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20),
             std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

}  // namespace gitsyncd::testing
