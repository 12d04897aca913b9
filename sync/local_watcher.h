// Notices edits in synced folders (inotify, recursive) and reports each folder's binding once
// per burst: after `quiet` without events, or at most `max_delay` after the first one, with
// the paths that changed. Our own temp files are ignored. When events may have been missed
// (a kernel queue overflow, a moved folder, a folder that cannot be watched) the report says
// so, and the binding's next pass scans its whole folder.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "base/status.h"

namespace gitsyncd {

// What one burst of events saw in one binding's folder.
struct LocalChanges {
  std::set<std::string> paths;  // files or folders, relative to the folder
  bool complete = true;         // false: some changes may be missing from `paths`
};

class LocalWatcher {
 public:
  using Callback = std::function<void(const std::string& binding, LocalChanges changes)>;
  LocalWatcher(Callback on_change, std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
               std::chrono::milliseconds max_delay = std::chrono::milliseconds(3000));
  ~LocalWatcher();
  LocalWatcher(const LocalWatcher&) = delete;
  LocalWatcher& operator=(const LocalWatcher&) = delete;

  // Watches `folder` and everything below it (created if missing).
  Status Add(const std::string& binding, const std::string& folder);
  Status Start();
  // True while every folder of the binding is watched (no watch failed, the watcher runs):
  // then the reports hold every change.
  bool WatchesAll(const std::string& binding) const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
