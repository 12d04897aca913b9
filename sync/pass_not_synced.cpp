// Paths a pass leaves alone, in both directions: remote symlinks and submodules (a folder
// cannot hold them), files larger than max_file_size on either side, and ignored paths. For each, the branch's
// entry stays in every commit the pass makes, and the folder at that path is neither
// written nor deleted: a size cap never turns into a deletion on either side.
#include "sync/pass_context.h"

namespace gitsyncd::pass {

Result<bool> Pass::TooLarge(const git_oid& blob) {
  git_odb* raw = nullptr;
  int rc = git_repository_odb(&raw, repo_);
  if (rc < 0) return GitError(rc, "cannot open the object database");
  OdbPtr odb(raw);
  size_t len = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  rc = git_odb_read_header(&len, &type, raw, &blob);
  if (rc < 0) return GitError(rc, "cannot read blob " + OidHex(blob));
  return static_cast<uint64_t>(len) > spec_.max_file_size;
}

// `tree` is the branch's side (the remote head, or the last synced commit before a fetch).
// A file equal to the folder's is within the limit; only the others are sized.
Status Pass::FindNotSynced(const FlatTree& scanned, const FlatTree& tree, bool report) {
  kept_.clear();
  not_synced_ = too_large_local_;
  for (const auto& [p, e] : tree) {
    bool keep = !IsManaged(e) || too_large_local_.count(p) != 0;
    if (!keep && ignore_ != nullptr) {
      // Ignored: the branch keeps its entry; the folder's file (if any) is never read.
      auto ignored = ignore_->Ignored(p);
      if (!ignored.ok()) return ignored.status();
      if (*ignored) {
        kept_[p] = e;
        not_synced_.insert(p);
        continue;
      }
    }
    if (!IsManaged(e) && report) {
      state_->warnings.push_back(std::string(e.mode == GIT_FILEMODE_LINK ? "remote symlink " : "remote submodule ") +
                                 p + ": not synced (kept in the repository)");
    }
    auto local = scanned.find(p);
    if (!keep && (local == scanned.end() || !(local->second == e))) {
      auto large = TooLarge(e.oid);
      if (!large.ok()) return large.status();
      keep = *large;
      if (keep && report) {
        state_->warnings.push_back("remote file " + p + " is larger than max_file_size (" +
                                   std::to_string(spec_.max_file_size / 1024) +
                                   " KiB): not written to the folder; kept in the repository");
      }
    }
    if (keep) {
      kept_[p] = e;
      not_synced_.insert(p);
    }
  }
  return Status::Ok();
}

// What the folder means for the repository: its files, with the branch's entry at every
// path not synced.
FlatTree Pass::LocalView(const FlatTree& scanned) const {
  FlatTree local = scanned;
  for (const auto& p : not_synced_) local.erase(p);
  for (const auto& [p, e] : kept_) local[p] = e;
  return local;
}

FlatTree Pass::Synced(const FlatTree& t) const {
  FlatTree out = Managed(t);
  for (const auto& p : not_synced_) out.erase(p);
  return out;
}

// Changes at ignored paths are dropped: an ignored local file is never pushed nor its absence
// pushed as a deletion, and an ignored remote change is never written.
Result<ChangeList> Pass::WithoutIgnored(ChangeList changes) {
  ChangeList out;
  for (auto& c : changes) {
    auto ignored = ignore_ != nullptr ? ignore_->Ignored(c.path) : Result<bool>(false);
    if (!ignored.ok()) return ignored.status();
    if (!*ignored) out.push_back(std::move(c));
  }
  return out;
}

Status Pass::ApplyFolder(const FlatTree& scanned, const FlatTree& target, ApplyReport* report) {
  FlatTree seen = scanned, want = target;
  for (const auto& p : not_synced_) {
    seen.erase(p);
    want.erase(p);
  }
  Status s = ApplyToFolder(repo_, spec_.local, spec_.binding_dir, seen, want, report, spec_.ownership);
  applied_.insert(applied_.end(), report->written.begin(), report->written.end());
  applied_.insert(applied_.end(), report->deleted.begin(), report->deleted.end());
  return s;
}

}  // namespace gitsyncd::pass
