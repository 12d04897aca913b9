#include "sync/local_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "sync/folder_tree.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB |
                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

// A burst touching more paths than this is reported as "scan everything".
constexpr size_t kMaxBurstPaths = 5000;

// The name of the network file system `folder` is on, or null for a local one. inotify
// reports only the changes made through this host's kernel, so a folder shared with other
// hosts is never seen whole (magic numbers from linux/magic.h and statfs(2)).
const char* NetworkFileSystem(const std::string& folder) {
  struct statfs st{};
  if (::statfs(folder.c_str(), &st) != 0) return nullptr;
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x65735546: return "FUSE";
    case 0x00C36400: return "CephFS";
    case 0x5346414F: return "AFS";
    case 0x01021997: return "9p";
    case 0x01161970: return "GFS2";
    case 0x7461636F: return "OCFS2";
    case 0x47504653: return "GPFS";
    case 0x0BD00BD0: return "Lustre";
    default: return nullptr;
  }
}

}  // namespace

struct LocalWatcher::Impl {
  Callback on_change;
  std::chrono::milliseconds quiet, max_delay;
  int inotify_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  mutable std::mutex mu;
  struct Watch {
    std::string binding;
    std::string rel;  // the folder relative to the binding's root ("" = the root)
  };
  std::map<int, Watch> watches;                // wd -> watched folder
  std::map<std::string, std::string> roots;    // binding -> folder
  std::set<std::string> unwatched;             // bindings with a folder that could not be watched
  bool running = false;
  struct Burst {
    Clock::time_point first, last;
    LocalChanges changes;
  };
  std::map<std::string, Burst> pending;

  // Caller holds mu. A folder moved inside the tree keeps its watch descriptors: adding the
  // watch again returns the same descriptor, and its path is updated here.
  void WatchTree(const std::string& binding, const std::string& rel) {
    std::string dir = rel.empty() ? roots[binding] : roots[binding] + "/" + rel;
    int wd = inotify_add_watch(inotify_fd, dir.c_str(), kMask);
    // Gone before it could be watched (a pass's staging folder, a folder deleted or moved at
    // once): nothing in it can change any more, and a move brings it back with an event
    // where it lands.
    if (wd < 0 && !rel.empty() && (errno == ENOENT || errno == ENOTDIR)) return;
    if (wd < 0) {
      spdlog::warn("sync '{}': cannot watch {}: {} (passes scan the whole folder)", binding, dir, std::strerror(errno));
      unwatched.insert(binding);
      return;
    }
    watches[wd] = {binding, rel};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_directory(ec) && !e.is_symlink(ec) && e.path().filename() != ".git") {
        std::string name = e.path().filename().string();
        WatchTree(binding, rel.empty() ? name : rel + "/" + name);
      }
    }
  }

  // Caller holds mu. `path` "" notes a change without a path (the report is incomplete).
  void Note(const std::string& binding, const std::string& path, bool complete = true) {
    auto now = Clock::now();
    auto [it, fresh] = pending.try_emplace(binding, Burst{now, now, {}});
    if (!fresh) it->second.last = now;
    LocalChanges& c = it->second.changes;
    if (!path.empty() && c.complete) c.paths.insert(path);
    if (!complete || unwatched.count(binding) != 0 || c.paths.size() > kMaxBurstPaths) {
      c.complete = false;  // the pass scans in full: the paths are not needed
      c.paths.clear();
    }
  }

  void HandleEvents() {
    alignas(inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(inotify_fd, buf, sizeof buf);
      if (n <= 0) return;
      std::lock_guard<std::mutex> lock(mu);
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          for (const auto& [b, f] : roots) Note(b, "", false);
          continue;
        }
        auto w = watches.find(ev->wd);
        if (w == watches.end()) continue;
        if (ev->mask & IN_IGNORED) {
          watches.erase(w);
          continue;
        }
        const Watch watch = w->second;
        std::string name = ev->len > 0 ? ev->name : "";
        if (name.empty()) {
          // The watched folder itself was moved or deleted: its paths cannot be trusted. A
          // subfolder deleted (a pull's staging folder, made and removed in every pull that
          // replaces a file) was reported by name in its watched parent already.
          bool subfolder_deleted = !watch.rel.empty() && (ev->mask & IN_MOVE_SELF) == 0;
          if ((ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF)) && !subfolder_deleted) Note(watch.binding, "", false);
          continue;
        }
        std::string rel = watch.rel.empty() ? name : watch.rel + "/" + name;
        bool is_dir = (ev->mask & IN_ISDIR) != 0;
        if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && name != ".git") WatchTree(watch.binding, rel);
        // A moved folder: events queued before the move name its old place. Rare enough
        // to pay a full scan for.
        bool moved_dir = is_dir && (ev->mask & (IN_MOVED_FROM | IN_MOVED_TO));
        Note(watch.binding, rel, !moved_dir);
      }
    }
  }

  // Fires the bursts that are due; returns how long until the next one is.
  int FireDue() {
    std::vector<std::pair<std::string, LocalChanges>> due;
    int wait_ms = -1;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto now = Clock::now();
      for (auto it = pending.begin(); it != pending.end();) {
        auto at = std::min(it->second.last + quiet, it->second.first + max_delay);
        if (at <= now) {
          due.emplace_back(it->first, std::move(it->second.changes));
          it = pending.erase(it);
        } else {
          int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(at - now).count()) + 1;
          wait_ms = wait_ms < 0 ? ms : std::min(wait_ms, ms);
          ++it;
        }
      }
    }
    for (auto& [b, changes] : due) on_change(b, std::move(changes));
    return wait_ms;
  }

  void Loop() {
    int wait_ms = -1;
    for (;;) {
      pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      int rc = ::poll(fds, 2, wait_ms);
      if (rc < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if (fds[0].revents != 0) HandleEvents();
      wait_ms = FireDue();
    }
  }
};

LocalWatcher::LocalWatcher(Callback on_change, std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay)
    : impl_(std::make_unique<Impl>()) {
  impl_->on_change = std::move(on_change);
  impl_->quiet = quiet;
  impl_->max_delay = max_delay;
  impl_->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

LocalWatcher::~LocalWatcher() {
  Stop();
  if (impl_->inotify_fd >= 0) ::close(impl_->inotify_fd);
  if (impl_->wake_fd >= 0) ::close(impl_->wake_fd);
}

Status LocalWatcher::Add(const std::string& binding, const std::string& folder) {
  if (impl_->inotify_fd < 0) return Status::IoError(std::string("inotify unavailable: ") + std::strerror(errno));
  std::error_code ec;
  fs::create_directories(folder, ec);
  const char* fs_name = NetworkFileSystem(folder);  // outside the lock: a hung mount blocks statfs
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->roots[binding] = folder;
  if (fs_name != nullptr) {
    spdlog::info("sync '{}': {} is on {}, where inotify does not see other hosts' writes: passes scan the whole folder",
                 binding, folder, fs_name);
    impl_->unwatched.insert(binding);
  }
  impl_->WatchTree(binding, "");
  return Status::Ok();
}

bool LocalWatcher::WatchesAll(const std::string& binding) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->running && impl_->roots.count(binding) != 0 && impl_->unwatched.count(binding) == 0;
}

Status LocalWatcher::Start() {
  if (impl_->inotify_fd < 0 || impl_->wake_fd < 0) return Status::IoError("inotify unavailable");
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->running = true;
  }
  impl_->thread = std::thread([this] { impl_->Loop(); });
  return Status::Ok();
}

void LocalWatcher::Stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->running = false;
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
}

}  // namespace gitsyncd
