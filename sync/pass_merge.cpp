// Both sides changed: a three-way merge of the folder's files, a merge commit whose second
// parent holds the pure local state, and the losing side of a conflict on its own branch.
#include <algorithm>
#include <ctime>

#include "sync/pass_context.h"
#include "sync/yaml_check.h"

namespace gitsyncd::pass {
namespace {

std::string RefSafe(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += ok ? c : '-';
  }
  return out;
}

std::string CompactTimestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// A path that is a file on one side and a folder on the other cannot be both in one tree. The
// side the policy prefers keeps its form; the other side's entries leave the merge and count as
// conflicted, so the conflict branch, which holds that side whole, keeps them.
void SettleFileFolderClashes(const FlatTree& preferred, FlatTree* merged, std::vector<std::string>* conflicted) {
  auto under = [](const std::string& path, const std::string& dir) { return path.compare(0, dir.size(), dir) == 0; };
  std::vector<std::string> files;
  for (const auto& [path, entry] : *merged) {
    auto next = merged->lower_bound(path + "/");
    if (next != merged->end() && under(next->first, path + "/")) files.push_back(path);
  }
  for (const std::string& file : files) {
    if (!merged->count(file)) continue;  // inside a folder an earlier clash removed
    std::string dir = file + "/";
    if (preferred.count(file)) {
      auto first = merged->lower_bound(dir), last = first;
      for (; last != merged->end() && under(last->first, dir); ++last) conflicted->push_back(last->first);
      merged->erase(first, last);
    } else {
      merged->erase(file);
      conflicted->push_back(file);
    }
  }
  std::sort(conflicted->begin(), conflicted->end());
  conflicted->erase(std::unique(conflicted->begin(), conflicted->end()), conflicted->end());
}

}  // namespace

// The line-level merge of the three sides; a conflicted path takes the side `on_conflict`
// prefers (a side missing from the conflict's stages deleted the file).
Result<Pass::MergedTrees> Pass::MergeTrees(const FlatTree& base_tree, const FlatTree& local, const FlatTree& remote) {
  auto b = WriteTree(repo_, base_tree);
  auto l = WriteTree(repo_, local);
  auto r = WriteTree(repo_, remote);
  if (!b.ok() || !l.ok() || !r.ok()) return !b.ok() ? b.status() : !l.ok() ? l.status() : r.status();
  auto bt = LookupTree(repo_, *b), lt = LookupTree(repo_, *l), rt = LookupTree(repo_, *r);
  if (!bt.ok() || !lt.ok() || !rt.ok()) return !bt.ok() ? bt.status() : !lt.ok() ? lt.status() : rt.status();
  git_merge_options opts = GIT_MERGE_OPTIONS_INIT;
  git_index* idx_raw = nullptr;
  int rc = git_merge_trees(&idx_raw, repo_, bt->get(), lt->get(), rt->get(), &opts);
  if (rc < 0) return GitError(rc, "cannot merge local and remote changes");
  IndexPtr index(idx_raw);
  MergedTrees out;
  out.local_tree = *l;
  bool take_local = spec_.on_conflict == ConflictPolicy::kPreferLocal;
  for (size_t i = 0; i < git_index_entrycount(idx_raw); ++i) {
    const git_index_entry* e = git_index_get_byindex(idx_raw, i);
    int stage = git_index_entry_stage(e);
    if (stage == 0) {
      out.merged[e->path] = FileEntry{e->id, e->mode};
      continue;
    }
    std::string path = e->path;
    if (out.conflicted.empty() || out.conflicted.back() != path) out.conflicted.push_back(path);
    // Stage 2 = ours (local), 3 = theirs (remote).
    if ((stage == 2 && take_local) || (stage == 3 && !take_local)) out.merged[path] = FileEntry{e->id, e->mode};
  }
  SettleFileFolderClashes(take_local ? local : remote, &out.merged, &out.conflicted);
  return out;
}

// Journals the merge before pushing it, so a crash after the push is finished by the next
// pass (RecoverPending); a failed push clears the journal again.
Status Pass::PushJournaled(const std::vector<RefUpdate>& updates, const std::optional<git_oid>& new_head,
                           const git_oid& local_tree) {
  state_->pending_commit = new_head ? OidHex(*new_head) : "";
  state_->pending_local_tree = OidHex(local_tree);
  Status s = SaveBindingState(spec_.binding_dir, *state_);
  if (!s.ok()) return s;
  Status pushed = Push(updates);
  if (!pushed.ok()) {
    state_->pending_commit.clear();
    state_->pending_local_tree.clear();
    SaveBindingState(spec_.binding_dir, *state_);
  }
  return pushed;
}

// The merge commit: the merged folder on the remote head, with the pure local state as the
// second parent; the message lists what changed against the remote and what conflicted.
Result<git_oid> Pass::CommitMerge(const std::optional<git_oid>& remote_head, const git_oid& local_commit,
                                  const FlatTree& remote, const MergedTrees& trees) {
  auto tree = ReplaceSubtree(repo_, remote_head ? &*remote_head : nullptr, spec_.path, trees.merged);
  if (!tree.ok()) return tree.status();
  std::string note = "Merge of the local changes of " + spec_.name + " with the remote's.";
  if (!trees.conflicted.empty()) {
    note += "\n\nConflicts (" + std::string(ConflictPolicyName(spec_.on_conflict)) + "):";
    for (const auto& c : trees.conflicted) note += "\n  " + c;
  }
  std::string message = CommitMessage(ChangedPaths(Managed(remote), Managed(trees.merged)), note);
  std::vector<git_oid> parents;
  if (remote_head) parents.push_back(*remote_head);
  parents.push_back(local_commit);
  return Commit(*tree, parents, message);
}

Result<PassOutcome> Pass::Merge(const std::optional<git_oid>& base, const FlatTree& base_tree,
                                const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                const FlatTree& local, const FlatTree& remote) {
  auto trees = MergeTrees(base_tree, local, remote);
  if (!trees.ok()) return trees.status();
  const FlatTree& merged = trees->merged;
  const std::vector<std::string>& conflicted = trees->conflicted;
  bool take_local = spec_.on_conflict == ConflictPolicy::kPreferLocal;
  Status valid = CheckYamlFiles(repo_, merged, remote, "local", &state_->warnings);
  if (valid.ok()) valid = CheckRemoteYaml(remote_head, merged, local, &remote);
  if (!valid.ok()) return valid;

  // The pure local state, as a commit on the last synced one: never lost, whatever happens.
  std::optional<git_oid> local_parent = base ? base : remote_head;
  auto local_commit = CommitFolderOn(local_parent, local, "The local changes of " + spec_.name + ", as they were before the merge.", base_tree);
  if (!local_commit.ok()) return local_commit.status();

  std::vector<RefUpdate> updates;
  std::optional<git_oid> new_head = remote_head;
  bool remote_unchanged = merged == remote;
  if (!remote_unchanged) {
    auto merge = CommitMerge(remote_head, *local_commit, remote, *trees);
    if (!merge.ok()) return merge.status();
    new_head = *merge;
    updates.push_back({*merge, "refs/heads/" + spec_.branch});
  }
  ConflictRecord record;
  if (!conflicted.empty()) {
    // The losing side goes to the conflict branch.
    git_oid loser = take_local && remote_head ? *remote_head : *local_commit;
    // The time names it for people; the commit keeps two conflicts of one second apart.
    record.branch = "gitsyncd/conflicts/" + RefSafe(spec_.name) + "/" + CompactTimestamp() + "-" + OidHex(loser).substr(0, 8);
    record.time = NowIso8601();
    record.policy = std::string(ConflictPolicyName(spec_.on_conflict));
    record.files = conflicted;
    record.resolved = spec_.on_conflict != ConflictPolicy::kKeepBoth;
    record.local_commit = OidHex(*local_commit);
    record.remote_commit = remote_head ? OidHex(*remote_head) : "";
    record.commit = OidHex(loser);
    updates.push_back({loser, "refs/heads/" + record.branch});
  }
  if (!updates.empty()) {
    Status pushed = PushJournaled(updates, new_head, trees->local_tree);
    if (!pushed.ok()) return pushed;
  }
  ApplyReport report;
  Status s = ApplyFolder(scanned, merged, &report);
  if (!s.ok()) return s;
  for (const auto& k : report.kept) state_->warnings.push_back("local edit to " + k + " kept; it is synced next");
  state_->pending_commit.clear();
  state_->pending_local_tree.clear();
  state_->pending_local_changes = 0;
  if (!conflicted.empty()) state_->conflicts.push_back(record);
  if (new_head) {
    s = SaveSynced(*new_head);
    if (!s.ok()) return s;
  }
  std::string summary = remote_unchanged ? "merged: remote already had the local changes" : "merged local and remote changes";
  if (!conflicted.empty()) {
    summary = "conflict in " + Plural(conflicted.size(), "file") + " (" + record.policy + "); the " +
              (take_local ? "remote" : "local") + " version is on branch " + record.branch;
  }
  PassOutcome out{summary, true, report.kept.empty()};
  out.direction = "merge";
  return out;
}

}  // namespace gitsyncd::pass
