// The binding's hooks inside a pass (docs/sync.md, "Hooks"). validate_remote and
// validate_local run on a tree written into a private folder of the binding's state
// directory: the remote's folder before it is applied, the folder of a commit before it is
// pushed. after_pull runs in the synced folder once a pass changed it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sync/pass_context.h"

namespace gitsyncd::pass {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxHookReports = 3;  // one per hook

std::vector<std::string> PathsOf(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.substr(2));  // "A path" -> "path"
  return out;
}

// Writes the regular files of `files` beneath `dir` (symlinks and submodules are left out,
// as in the folder). Paths come from checked remote trees or from the scanned folder.
Status WriteFiles(git_repository* repo, const FlatTree& files, const std::string& dir) {
  for (const auto& [path, e] : Managed(files)) {
    std::string target = dir + "/" + path;
    std::error_code ec;
    fs::create_directories(fs::path(target).parent_path(), ec);
    if (ec) return Status::IoError("cannot create " + fs::path(target).parent_path().string() + ": " + ec.message());
    git_blob* raw = nullptr;
    int rc = git_blob_lookup(&raw, repo, &e.oid);
    if (rc < 0) return GitError(rc, "cannot read " + path + " for a hook");
    BlobPtr blob(raw);
    mode_t mode = e.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0700 : 0600;
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return Status::IoError("cannot write " + target + ": " + std::strerror(errno));
    const char* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
    size_t size = static_cast<size_t>(git_blob_rawsize(blob.get())), off = 0;
    while (off < size) {
      ssize_t n = ::write(fd, data + off, size - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
    if (off < size) return Status::IoError("cannot write " + target + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

void Pass::Report(const char* name, const std::string& commit, const HookResult& r) {
  auto& reports = state_->hooks;
  reports.erase(std::remove_if(reports.begin(), reports.end(), [&](const HookReport& h) { return h.hook == name; }),
                reports.end());
  reports.push_back({name, NowIso8601(), commit, r.ok(), r.Describe(name)});
  if (reports.size() > kMaxHookReports) reports.erase(reports.begin());
}

// `files` written into a private folder of the binding's state directory for a check, removed
// when it goes (and by the next pass after a kill -9: its name starts with "hook-").
class TreeFolder {
 public:
  ~TreeFolder() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  Status Write(git_repository* repo, const FlatTree& files, const std::string& binding_dir) {
    std::string pattern = binding_dir + "/hook-tree-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Status::IoError("cannot create a folder in " + binding_dir + ": " + std::strerror(errno));
    }
    path_ = pattern;
    return WriteFiles(repo, files, path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `hook` on the files of `after` in a private folder; a refusal is the hook's exit and
// output, capped.
Status Pass::RunTreeHook(const char* name, const HookConfig& hook, const git_oid& commit, const char* direction,
                         const FlatTree& before, const FlatTree& after) {
  TreeFolder folder;
  Status written = folder.Write(repo_, after, spec_.binding_dir);
  if (!written.ok()) return written;
  HookCall call{name, spec_.name, OidHex(commit), direction, PathsOf(ChangedPaths(Managed(before), Managed(after))),
                folder.path(), "", spec_.binding_dir};
  HookResult r = RunHook(hook, call);
  Report(name, call.commit, r);
  if (r.ok()) return Status::Ok();
  return Status::PermissionDenied(r.Describe(name));
}

// The spec's own check (check_tree), then the validate_remote hook; a refusal is recorded in
// state_->refused.
Status Pass::ValidateRemote(const git_oid& remote_head, const FlatTree& base_tree, const FlatTree& remote) {
  if (spec_.check_tree) {
    TreeFolder folder;
    Status written = folder.Write(repo_, remote, spec_.binding_dir);
    if (!written.ok()) return written;
    RefusalRecord where{OidHex(remote_head), "check", "", 0};
    Status s = spec_.check_tree(folder.path(), &where);
    if (!s.ok()) {
      where.commit = OidHex(remote_head);
      state_->refused = where;
      return s;
    }
  }
  if (!spec_.hooks.validate_remote.set()) return Status::Ok();
  Status s = RunTreeHook("validate_remote", spec_.hooks.validate_remote, remote_head, "pull", base_tree, remote);
  if (!s.ok()) state_->refused = {OidHex(remote_head), "hook", "", 0};
  return s;
}

// Before the synced branch moves to a commit of ours: its folder, against its first parent's.
// Conflict branches carry no new work of the folder's and are not checked.
Status Pass::ValidateLocal(const std::vector<RefUpdate>& updates) {
  if (!spec_.hooks.validate_local.set()) return Status::Ok();
  for (const auto& u : updates) {
    if (u.remote_ref != "refs/heads/" + spec_.branch) continue;
    auto after = SubtreeOfCommit(repo_, &u.commit, spec_.path);
    if (!after.ok()) return after.status();
    git_commit* raw = nullptr;
    int rc = git_commit_lookup(&raw, repo_, &u.commit);
    if (rc < 0) return GitError(rc, "cannot read the commit to push");
    CommitPtr commit(raw);
    const git_oid* parent = git_commit_parentcount(raw) > 0 ? git_commit_parent_id(raw, 0) : nullptr;
    auto before = SubtreeOfCommit(repo_, parent, spec_.path);
    if (!before.ok()) return before.status();
    Status s = RunTreeHook("validate_local", spec_.hooks.validate_local, u.commit, "push", *before, *after);
    if (!s.ok()) {
      return Status::PermissionDenied("push held: " + s.message() +
                                      "; the local change stays in the folder and is pushed once the hook accepts it");
    }
  }
  return Status::Ok();
}

// After the folder changed; a failure is reported (status, warnings) but undoes nothing: the
// folder already holds the change.
void Pass::AfterPull() {
  if (applied_.empty() || !spec_.hooks.after_pull.set()) return;
  std::sort(applied_.begin(), applied_.end());
  applied_.erase(std::unique(applied_.begin(), applied_.end()), applied_.end());
  HookCall call{"after_pull", spec_.name, state_->last_synced_commit, "pull", applied_, "", spec_.local,
                spec_.binding_dir};
  HookResult r = RunHook(spec_.hooks.after_pull, call);
  Report("after_pull", call.commit, r);
  if (!r.ok()) state_->warnings.push_back(r.Describe("after_pull"));
  applied_.clear();
}

}  // namespace gitsyncd::pass
