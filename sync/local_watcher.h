// Notices edits in synced folders (inotify, recursive) and reports each folder's binding once
// per burst: after `quiet` without events, or at most `max_delay` after the first one. Our own
// temp files are ignored. A kernel queue overflow reports every binding (a full rescan).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "config/status.h"

namespace gitsyncd {

class LocalWatcher {
 public:
  using Callback = std::function<void(const std::string& binding)>;
  LocalWatcher(Callback on_change, std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
               std::chrono::milliseconds max_delay = std::chrono::milliseconds(3000));
  ~LocalWatcher();
  LocalWatcher(const LocalWatcher&) = delete;
  LocalWatcher& operator=(const LocalWatcher&) = delete;

  // Watches `folder` and everything below it (created if missing).
  Status Add(const std::string& binding, const std::string& folder);
  Status Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
