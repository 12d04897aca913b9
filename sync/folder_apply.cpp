#include "sync/folder_apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

#include "sync/folder_fd.h"
#include "sync/folder_staging.h"
#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

ApplyHook& Hook() {
  static ApplyHook hook;
  return hook;
}

void Pause(const char* moment, const std::string& path) {
  if (Hook()) Hook()(moment, path);
}

std::string ParentOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

// The path cannot be reached without a symlink, or a file stands where a folder should.
bool Redirected(int err) { return err == ELOOP || err == ENOTDIR || err == EXDEV; }

bool Same(const std::optional<FileEntry>& a, const std::optional<FileEntry>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b);
}

std::string Errno() { return std::strerror(errno); }

// One file to replace, create or delete.
struct Op {
  Op(std::string p, std::optional<FileEntry> s, std::optional<FileEntry> w)
      : path(std::move(p)), seen(std::move(s)), want(std::move(w)) {}
  std::string path;
  std::optional<FileEntry> seen;  // what the scan saw; nullopt: nothing
  std::optional<FileEntry> want;  // nullopt: delete
  std::string staged;             // the new content's name in the staging folder
  UniqueFd tmpfile;               // or the new content, not yet named (O_TMPFILE)
  uint64_t staged_ino = 0;
  std::string aside;  // the name in the staging folder of the file taken out of the folder
  enum class State { kPending, kDone, kKept, kGone } state = State::kPending;
};

class Applier {
 public:
  Applier(git_repository* repo, int root, std::string folder, FolderOwnership ownership)
      : repo_(repo), root_(root), folder_(std::move(folder)), own_(ownership) {}
  Status Run(const FlatTree& scanned, const FlatTree& target, const std::string& state_dir, ApplyReport* report);

 private:
  Status Check(const FlatTree& scanned, const FlatTree& target);
  Status CheckOne(Op op, const FlatTree& scanned);
  bool CanLinkTmpfiles() const;
  bool CanExchangeTmpfile() const;
  Result<bool> StageTmpfiles();
  Result<bool> ReplaceOne(const std::string& state_dir, ApplyReport* report);
  int AsideDir() const { return staging_ ? staging_->fd() : root_; }
  Status LinkIn();
  Status LinkTmpfiles(ApplyReport* report);
  Status WriteNew(int fd, Op& op, const std::string& what);
  Status Stage();
  Status Own(int fd, uint32_t mode, const std::string& what);
  Result<UniqueFd> OpenParent(const std::string& path, std::string* leaf);
  Status SwapIn();
  Status TakeOut(Op& op);
  Status RemoveEmptied();
  Status PutIn(Op& op);
  Status CheckTakenOut(Op& op);
  Result<bool> AsideIsSeen(const Op& op);
  void PutBack(Op& op);
  void MoveBack(const std::string& aside, const std::string& path);
  void SwapBack(const Op& op);
  void TakeBackNew(const Op& op);
  void UnlinkNew(const Op& op);
  void RemoveFolder(const std::string& rel);
  void Recheck();
  void Finish(ApplyReport* report);
  Status Undone(const Status& failed);

  git_repository* repo_;
  int root_;
  std::string folder_;
  FolderOwnership own_;
  std::vector<Op> ops_;
  std::vector<std::string> kept_;
  std::unique_ptr<StagingFolder> staging_;
  std::unique_ptr<StagingFile> staging_file_;  // or the one replaced file's way out (ReplaceOne)
  std::vector<std::function<void()>> undo_;  // reverses each rename done, newest last
  std::set<std::string> dirs_;               // folders whose names changed, fsynced at the end
};

Status Applier::Check(const FlatTree& scanned, const FlatTree& target) {
  // Deletions first, so a file can become a folder of the same name.
  for (const auto& [path, e] : scanned) {
    if (target.count(path) != 0) continue;
    Status s = CheckOne(Op{path, e, std::nullopt}, scanned);
    if (!s.ok()) return s;
  }
  for (const auto& [path, e] : target) {
    if (!IsManaged(e)) continue;
    auto it = scanned.find(path);
    if (it != scanned.end() && it->second == e) continue;
    std::optional<FileEntry> seen;
    if (it != scanned.end()) seen = it->second;
    Status s = CheckOne(Op{path, seen, e}, scanned);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Applier::CheckOne(Op op, const FlatTree& scanned) {
  auto now = HashBeneath(root_, op.path);
  if (!now.ok()) {
    if (now.status().code() != Status::Code::kInvalidArgument) return now.status();
    kept_.push_back(op.path);  // grew past the size limit since the scan: a local edit
    return Status::Ok();
  }
  if (op.want ? Same(*now, op.want) : !now->has_value()) return Status::Ok();  // already as wanted
  // A folder the scan saw becoming a file: its files are deleted first, then it is replaced.
  auto under = scanned.lower_bound(op.path + "/");
  bool emptied_folder = !op.seen && now->has_value() && (*now)->mode == 0 && under != scanned.end() &&
                        under->first.compare(0, op.path.size() + 1, op.path + "/") == 0;
  if (!Same(*now, op.seen) && !emptied_folder) {
    kept_.push_back(op.path);
    return Status::Ok();
  }
  Pause("checked", op.path);
  ops_.push_back(std::move(op));
  return Status::Ok();
}

Status Applier::Stage() {
  for (size_t i = 0; i < ops_.size(); ++i) {
    Op& op = ops_[i];
    if (!op.want) continue;
    git_blob* raw = nullptr;
    int rc = git_blob_lookup(&raw, repo_, &op.want->oid);
    if (rc < 0) return GitError(rc, "cannot read the blob for " + op.path);
    BlobPtr present(raw);  // there before a staged file is made for it
    op.staged = "n" + std::to_string(i);
    std::string what = folder_ + "/" + op.path + " (staged in " + staging_->name() + ")";
    UniqueFd fd(::openat(staging_->fd(), op.staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return Status::IoError("cannot write " + what + ": " + Errno());
    Status s = WriteNew(fd.get(), op, what);
    if (!s.ok()) return s;
  }
  SyncFolder(staging_->fd());
  return Status::Ok();
}

// Writes `op`'s new content into the new file `fd`, in its mode and group, fsynced.
Status Applier::WriteNew(int fd, Op& op, const std::string& what) {
  git_blob* raw = nullptr;
  int rc = git_blob_lookup(&raw, repo_, &op.want->oid);
  if (rc < 0) return GitError(rc, "cannot read the blob for " + op.path);
  BlobPtr blob(raw);
  // Executable in Git: x wherever the configured mode gives r.
  uint32_t mode = own_.file_mode;
  if (op.want->mode == GIT_FILEMODE_BLOB_EXECUTABLE) mode |= (mode & 0444) >> 2;
  Status owned = Own(fd, mode, what);
  if (!owned.ok()) return owned;
  Status s = WriteAndSync(fd, static_cast<const char*>(git_blob_rawcontent(raw)), static_cast<size_t>(git_blob_rawsize(raw)),
                          what);
  if (!s.ok()) return s;
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Status::IoError("cannot stat " + what + ": " + Errno());
  op.staged_ino = st.st_ino;
  return Status::Ok();
}

// A commit that only adds a few files needs no staging folder (and no record of one in the
// state dir, each written and fsynced): each new file is written as an O_TMPFILE in the
// folder, which has no name until it is linked in, so a crash before that leaves nothing.
// With more files the staging folder keeps the number of open descriptors bounded.
constexpr size_t kMaxTmpfiles = 32;

bool Applier::CanLinkTmpfiles() const {
  if (ops_.size() > kMaxTmpfiles) return false;
  for (const auto& op : ops_) {
    if (!op.want || op.seen) return false;  // a replacement or a deletion goes through staging
  }
  return ::access("/proc/self/fd", X_OK) == 0;  // linkat of a descriptor goes through /proc
}

// A commit that replaces one file and does nothing else, the usual edit of one config file,
// needs no staging folder either: the new file is written as an O_TMPFILE, given a recorded
// name of its own beside the others (StagingFile) and exchanged with the file. That saves the
// folder's creation and removal and three of the six fsyncs.
bool Applier::CanExchangeTmpfile() const {
  return ops_.size() == 1 && ops_.front().want && ops_.front().seen && ::access("/proc/self/fd", X_OK) == 0;
}

// Runs the commit when CanExchangeTmpfile(); false when the file system has no O_TMPFILE (then
// nothing was written).
Result<bool> Applier::ReplaceOne(const std::string& state_dir, ApplyReport* report) {
  auto staged = StageTmpfiles();
  if (!staged.ok()) return staged.status().WithContext("nothing of the commit was applied to " + folder_);
  if (!*staged) return false;
  Op& op = ops_.front();
  // The file it replaces, for the record; unknown (0) when it is no longer a plain file
  // reachable without a symlink, and then the exchange below finds the local change.
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, op.path, &leaf));
  struct stat st{};
  uint64_t replaced = parent && ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)
                          ? st.st_ino
                          : 0;
  auto file = StagingFile::Link(root_, op.tmpfile.get(), op.staged_ino, replaced, state_dir);
  if (!file.ok()) return file.status().WithContext("nothing of the commit was applied to " + folder_);
  staging_file_ = std::move(file).value();
  op.staged = staging_file_->name();
  Pause("staged", "");
  Status s = SwapIn();
  if (!s.ok()) return Undone(s);
  Pause("swapped", "");
  Recheck();
  staging_file_.reset();  // its removal is flushed with the top folder, so Finish need not
  dirs_.erase("");
  Finish(report);
  return true;
}

// False when the file system has no O_TMPFILE (then nothing was written).
Result<bool> Applier::StageTmpfiles() {
  for (auto& op : ops_) {
    std::string what = folder_ + "/" + op.path;
    op.tmpfile = UniqueFd(::openat(root_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
    if (!op.tmpfile && &op == &ops_.front() && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) return false;
    if (!op.tmpfile) return Status::IoError("cannot write " + what + ": " + Errno());
    Status s = WriteNew(op.tmpfile.get(), op, what);
    if (!s.ok()) return s;
  }
  return true;
}

// Every new file gets its name: one link each, refused if the name was taken meanwhile.
Status Applier::LinkIn() {
  for (auto& op : ops_) {
    std::string leaf;
    auto parent = OpenParent(op.path, &leaf);
    if (!parent.ok()) return parent.status();
    std::string from = "/proc/self/fd/" + std::to_string(op.tmpfile.get());
    if (!*parent || ::linkat(AT_FDCWD, from.c_str(), parent->get(), leaf.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      if (!Redirected(errno) && errno != EEXIST) return Status::IoError("cannot write " + folder_ + "/" + op.path + ": " + Errno());
      op.state = Op::State::kKept;  // created or put behind a symlink since the check: a local change
      continue;
    }
    op.state = Op::State::kDone;
    dirs_.insert(ParentOf(op.path));
    undo_.push_back([this, &op] { UnlinkNew(op); });
  }
  return Status::Ok();
}

Status Applier::SwapIn() {
  for (auto& op : ops_) {
    if (op.want) continue;
    Status s = TakeOut(op);
    if (!s.ok()) return s;
  }
  Status s = RemoveEmptied();
  if (!s.ok()) return s;
  for (auto& op : ops_) {
    if (!op.want) continue;
    s = PutIn(op);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// A deletion: the file is moved into the staging folder, then checked.
Status Applier::TakeOut(Op& op) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, op.path, &leaf));
  op.aside = "d" + std::to_string(&op - ops_.data());
  if (!parent || ::renameat(parent.get(), leaf.c_str(), AsideDir(), op.aside.c_str()) != 0) {
    if (errno == ENOENT) {
      op.state = Op::State::kGone;  // deleted locally too
      return Status::Ok();
    }
    if (!Redirected(errno)) return Status::IoError("cannot delete " + folder_ + "/" + op.path + ": " + Errno());
    op.state = Op::State::kKept;
    return Status::Ok();
  }
  undo_.push_back([this, aside = op.aside, path = op.path] { MoveBack(aside, path); });
  dirs_.insert(ParentOf(op.path));
  return CheckTakenOut(op);
}

// Folders the deletions emptied (deepest first), never the synced folder itself.
Status Applier::RemoveEmptied() {
  std::set<std::string> parents;
  for (const auto& op : ops_) {
    if (!op.want && op.state == Op::State::kDone) parents.insert(ParentOf(op.path));
  }
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
    for (std::string d = *it; !d.empty(); d = ParentOf(d)) {
      std::string leaf;
      UniqueFd parent(OpenParentBeneath(root_, d, &leaf));
      if (!parent || ::unlinkat(parent.get(), leaf.c_str(), AT_REMOVEDIR) != 0) break;
      undo_.push_back([this, d] {
        std::string name;
        UniqueFd p(OpenParentBeneath(root_, d, &name));
        if (p) ::mkdirat(p.get(), name.c_str(), 0755);
      });
      dirs_.insert(ParentOf(d));
    }
  }
  return Status::Ok();
}

// The configured mode (not the umask's) and group on a file or folder this pull made.
Status Applier::Own(int fd, uint32_t mode, const std::string& what) {
  if (own_.group >= 0 && ::fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(own_.group)) != 0) {
    return Status::PermissionDenied("cannot give " + what + " to group " + std::to_string(own_.group) + ": " + Errno() +
                                    " (the daemon's user must be a member of the sync's group)");
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return Status::IoError("cannot set the mode of " + what + ": " + Errno());
  return Status::Ok();
}

// A new or replaced file: one rename from the staging folder. A replaced file is exchanged
// with the new one, so it lands in the staging folder and is checked there.
Status Applier::PutIn(Op& op) {
  std::string leaf;
  auto opened = OpenParent(op.path, &leaf);
  if (!opened.ok()) return opened.status();
  UniqueFd parent = std::move(opened).value();
  unsigned flags = op.seen ? RENAME_EXCHANGE : RENAME_NOREPLACE;
  if (!parent || ::renameat2(AsideDir(), op.staged.c_str(), parent.get(), leaf.c_str(), flags) != 0) {
    // Deleted, created, or put behind a symlink since the check: a local change, kept.
    bool local_change = Redirected(errno) || (op.seen ? errno == ENOENT : errno == EEXIST);
    if (!local_change) return Status::IoError("cannot write " + folder_ + "/" + op.path + ": " + Errno());
    op.state = Op::State::kKept;
    return Status::Ok();
  }
  dirs_.insert(ParentOf(op.path));
  if (!op.seen) {
    op.state = Op::State::kDone;
    undo_.push_back([this, &op] { TakeBackNew(op); });
    return Status::Ok();
  }
  op.aside = op.staged;
  undo_.push_back([this, &op] { SwapBack(op); });
  return CheckTakenOut(op);
}

// The folder `path` goes in, with the folders on the way that were missing made (in the
// configured mode and group, removed again by the undo). An invalid descriptor with errno
// set when the way is blocked (a symlink, a file where a folder should be).
Result<UniqueFd> Applier::OpenParent(const std::string& path, std::string* leaf) {
  std::vector<std::string> created;
  UniqueFd parent(OpenParentBeneath(root_, path, leaf, &created));
  int err = errno;
  for (const auto& c : created) {
    undo_.push_back([this, c] { RemoveFolder(c); });
    dirs_.insert(ParentOf(c));
    UniqueFd made(OpenBeneath(root_, c, O_RDONLY | O_DIRECTORY));
    if (!made) return Status::IoError("cannot open the new folder " + folder_ + "/" + c + ": " + Errno());
    Status owned = Own(made.get(), own_.dir_mode, folder_ + "/" + c);
    if (!owned.ok()) return owned;
  }
  errno = err;
  return parent;
}

// The file just taken out of the folder must be the one the check hashed; if an edit was
// saved in between, it goes back at once.
Status Applier::CheckTakenOut(Op& op) {
  op.state = Op::State::kDone;
  auto seen = AsideIsSeen(op);
  if (!seen.ok()) return seen.status();
  if (!*seen) {
    undo_.pop_back();
    PutBack(op);
  }
  return Status::Ok();
}

Result<bool> Applier::AsideIsSeen(const Op& op) {
  auto now = HashBeneath(AsideDir(), op.aside);
  if (!now.ok() && now.status().code() != Status::Code::kInvalidArgument) return now.status();
  return now.ok() && Same(*now, op.seen);
}

// The file taken out is not the one hashed: an edit was saved in the meantime. It goes back.
void Applier::PutBack(Op& op) {
  if (op.want) {
    SwapBack(op);
  } else {
    MoveBack(op.aside, op.path);
  }
  op.state = Op::State::kKept;
}

void Applier::MoveBack(const std::string& aside, const std::string& path) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, path, &leaf, nullptr));
  if (!parent) return;
  if (::renameat2(AsideDir(), aside.c_str(), parent.get(), leaf.c_str(), RENAME_NOREPLACE) == 0) return;
  // A new file of the user's took the name meanwhile: both are theirs, keep both.
  std::string beside = leaf + ".gitsyncd-kept-" + aside;
  ::renameat2(AsideDir(), aside.c_str(), parent.get(), beside.c_str(), RENAME_NOREPLACE);
}

void Applier::SwapBack(const Op& op) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, op.path, &leaf));
  if (!parent) return;
  if (::renameat2(AsideDir(), op.aside.c_str(), parent.get(), leaf.c_str(), RENAME_EXCHANGE) != 0) return;
  // What came back must be the new file. If the user saved over it meanwhile, theirs is the
  // newest version of the file: it goes back in place.
  struct stat st{};
  if (::fstatat(AsideDir(), op.aside.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino != op.staged_ino) {
    ::renameat2(AsideDir(), op.aside.c_str(), parent.get(), leaf.c_str(), RENAME_EXCHANGE);
  }
}

void Applier::TakeBackNew(const Op& op) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, op.path, &leaf));
  struct stat st{};
  if (!parent || ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (st.st_ino != op.staged_ino) return;  // no longer ours
  ::renameat2(parent.get(), leaf.c_str(), AsideDir(), op.staged.c_str(), RENAME_NOREPLACE);
}

// Undoes a link of a new file: only while the name still holds that file.
void Applier::UnlinkNew(const Op& op) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, op.path, &leaf));
  struct stat st{};
  if (!parent || ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (st.st_ino == op.staged_ino) ::unlinkat(parent.get(), leaf.c_str(), 0);
}

void Applier::RemoveFolder(const std::string& rel) {
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root_, rel, &leaf));
  if (parent) ::unlinkat(parent.get(), leaf.c_str(), AT_REMOVEDIR);
}

// The files taken out are checked once more right before they are removed: an edit saved
// through a descriptor opened before the swap still lands in the folder.
void Applier::Recheck() {
  for (auto& op : ops_) {
    if (op.state != Op::State::kDone || op.aside.empty()) continue;
    auto seen = AsideIsSeen(op);
    if (!seen.ok() || !*seen) PutBack(op);
  }
}

void Applier::Finish(ApplyReport* report) {
  for (const auto& op : ops_) {
    if (op.state == Op::State::kDone) (op.want ? report->written : report->deleted).push_back(op.path);
    if (op.state == Op::State::kKept) report->kept.push_back(op.path);
  }
  for (auto& k : kept_) report->kept.push_back(std::move(k));
  for (const auto& d : dirs_) {
    UniqueFd fd(d.empty() ? ::dup(root_) : OpenBeneath(root_, d, O_RDONLY | O_DIRECTORY));
    if (fd) SyncFolder(fd.get());
  }
}

// Reverses every rename done, newest first, after `failed`.
Status Applier::Undone(const Status& failed) {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  return failed.WithContext("the commit's changes to " + folder_ + " were undone");
}

// The rest of Run for new files written as O_TMPFILEs: linked in, or all undone.
Status Applier::LinkTmpfiles(ApplyReport* report) {
  Pause("staged", "");
  Status s = LinkIn();
  if (!s.ok()) return Undone(s);
  Pause("swapped", "");
  Finish(report);
  return Status::Ok();
}

Status Applier::Run(const FlatTree& scanned, const FlatTree& target, const std::string& state_dir,
                    ApplyReport* report) {
  Status s = Check(scanned, target);
  if (!s.ok()) return s;
  if (!ops_.empty() && CanLinkTmpfiles()) {
    auto staged = StageTmpfiles();
    if (!staged.ok()) return staged.status().WithContext("nothing of the commit was applied to " + folder_);
    if (*staged) return LinkTmpfiles(report);
  }
  if (CanExchangeTmpfile()) {
    auto replaced = ReplaceOne(state_dir, report);
    if (!replaced.ok()) return replaced.status();
    if (*replaced) return Status::Ok();
  }
  if (!ops_.empty()) {
    auto staging = StagingFolder::Create(root_, state_dir);
    if (!staging.ok()) return staging.status();
    staging_ = std::move(staging).value();
    s = Stage();
    if (!s.ok()) return s.WithContext("nothing of the commit was applied to " + folder_);
    Pause("staged", "");
    s = SwapIn();
    if (!s.ok()) return Undone(s);
    Pause("swapped", "");
    Recheck();
  }
  Finish(report);
  return Status::Ok();
}

}  // namespace

Status ApplyToFolder(git_repository* repo, const std::string& folder, const std::string& state_dir,
                     const FlatTree& scanned, const FlatTree& target, ApplyReport* report,
                     const FolderOwnership& ownership) {
  auto root = OpenFolder(folder);
  if (!root.ok()) return root.status();
  Applier applier(repo, root->get(), folder, ownership);
  return applier.Run(scanned, target, state_dir, report);
}

void SetApplyHookForTest(ApplyHook hook) { Hook() = std::move(hook); }

}  // namespace gitsyncd
