#include "sync/sync_pass.h"

#include "sync/api_fetch.h"
#include "sync/api_push.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "sync/binding_state.h"
#include "sync/folder_changes.h"
#include "sync/object_buffer.h"
#include "sync/folder_tree.h"
#include "sync/git_handles.h"
#include "sync/remote_ops.h"
#include "sync/yaml_check.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxPushAttempts = 5;
constexpr size_t kMaxListedPaths = 100;

// A kill -9 while libgit2 writes a ref, the index or the config leaves its "<file>.lock"
// behind, and every later write of that file fails. Passes of one binding never overlap and
// the binding's repository belongs to this daemon alone, so a lock seen when a pass starts
// is stale: remove it (the file it guarded was never replaced, so nothing is lost).
void RemoveStaleLocks(const std::string& repo_dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const char* top : {"HEAD.lock", "index.lock", "packed-refs.lock", "config.lock", "shallow.lock"}) {
    if (fs::exists(fs::path(repo_dir) / top, ec)) stale.push_back(fs::path(repo_dir) / top);
  }
  for (auto it = fs::recursive_directory_iterator(fs::path(repo_dir) / "refs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".lock") stale.push_back(it->path());
  }
  for (const auto& f : stale) {
    spdlog::warn("removing stale lock {} (left by an interrupted run)", f.string());
    fs::remove(f, ec);
  }
}

Result<RepositoryPtr> OpenRepo(const std::string& binding_dir) {
  EnsureLibgit2();
  std::string path = binding_dir + "/repo";
  RemoveStaleLocks(path);
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, path.c_str());
  if (rc == GIT_ENOTFOUND) {
    std::error_code ec;
    fs::create_directories(binding_dir, ec);
    rc = git_repository_init(&raw, path.c_str(), 1);
  }
  if (rc < 0) return GitError(rc, "cannot open the binding's repository " + path);
  RemoveDanglingRefs(raw);
  return RepositoryPtr(raw);
}

std::optional<git_oid> ParseOid(const std::string& hex) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) < 0) return std::nullopt;
  return oid;
}

FlatTree Managed(const FlatTree& t) {
  FlatTree out;
  for (const auto& [p, e] : t) {
    if (IsManaged(e)) out[p] = e;
  }
  return out;
}

// "A path" / "M path" / "D path" lines between two trees.
std::vector<std::string> ChangedPaths(const FlatTree& from, const FlatTree& to) {
  std::vector<std::string> out;
  for (const auto& [p, e] : to) {
    auto it = from.find(p);
    if (it == from.end()) out.push_back("A " + p);
    else if (!(it->second == e)) out.push_back("M " + p);
  }
  for (const auto& [p, e] : from) {
    if (to.count(p) == 0) out.push_back("D " + p);
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.substr(2) < b.substr(2); });
  return out;
}

// The changed paths for a commit message, at most kMaxListedPaths of them.
std::string ListedPaths(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < kMaxListedPaths; ++i) out += lines[i] + "\n";
  if (lines.size() > kMaxListedPaths) out += "... and " + std::to_string(lines.size() - kMaxListedPaths) + " more\n";
  return out;
}

std::string Plural(size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

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

class Pass {
 public:
  Pass(const BindingSpec& spec, git_repository* repo, BindingState* state,
       std::chrono::steady_clock::time_point started)
      : spec_(spec), repo_(repo), state_(state), started_(started) {}

  double pushed_after_s() const { return pushed_after_s_; }

  Result<PassOutcome> Run(const PassOptions& options);

 private:
  Result<std::optional<PassOutcome>> RunIncremental(const std::set<std::string>& changed, bool local_trigger_only);
  Result<std::optional<PassOutcome>> RunIncrementalBuffered(const std::set<std::string>& changed,
                                                            bool local_trigger_only);
  Result<PassOutcome> PushChanges(const git_oid& parent, const ChangeList& changes);
  Result<PassOutcome> RunFull(bool local_trigger_only);

  Result<git_oid> Commit(const git_oid& tree, const std::vector<git_oid>& parents, const std::string& message);
  Result<git_oid> CommitFolderOn(const std::optional<git_oid>& parent, const FlatTree& files, const std::string& title,
                                 const FlatTree& before);
  Status SaveSynced(const git_oid& commit);
  Result<PassOutcome> PushSyncCommit(const git_oid& commit, size_t changes);
  Result<PassOutcome> PushLocal(const std::optional<git_oid>& remote_head, const FlatTree& local, const FlatTree& remote);
  Result<PassOutcome> ApplyRemote(const git_oid& remote_head, const FlatTree& scanned, const FlatTree& target,
                                  const std::string& what);
  Result<PassOutcome> Merge(const std::optional<git_oid>& base, const FlatTree& base_tree,
                            const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                            const FlatTree& local, const FlatTree& remote);
  Result<std::optional<git_oid>> Fetch();
  Status Push(const std::vector<RefUpdate>& updates);
  Result<bool> RecoverPending(const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                              const FlatTree& remote);

  const BindingSpec& spec_;
  git_repository* repo_;
  BindingState* state_;
  std::chrono::steady_clock::time_point started_;
  double pushed_after_s_ = 0;
  std::vector<git_oid> buffered_;  // objects a buffered incremental pass must store
};

Result<git_oid> Pass::Commit(const git_oid& tree_id, const std::vector<git_oid>& parents, const std::string& message) {
  git_signature* sig_raw = nullptr;
  int rc = git_signature_now(&sig_raw, spec_.author.name.c_str(), spec_.author.email.c_str());
  if (rc < 0) return GitError(rc, "invalid commit_author");
  SignaturePtr sig(sig_raw);
  git_tree* tree_raw = nullptr;
  rc = git_tree_lookup(&tree_raw, repo_, &tree_id);
  if (rc < 0) return GitError(rc, "cannot read tree");
  TreePtr tree(tree_raw);
  std::vector<CommitPtr> owned;
  std::vector<const git_commit*> ptrs;
  for (const auto& p : parents) {
    git_commit* c = nullptr;
    rc = git_commit_lookup(&c, repo_, &p);
    if (rc < 0) return GitError(rc, "cannot read parent commit");
    owned.emplace_back(c);
    ptrs.push_back(c);
  }
  git_oid out;
  rc = git_commit_create(&out, repo_, nullptr, sig.get(), sig.get(), nullptr, message.c_str(), tree.get(), ptrs.size(),
                         ptrs.data());
  if (rc < 0) return GitError(rc, "cannot create commit");
  return out;
}

// A commit holding `files` at spec.path on top of `parent`, with a message listing the
// changed paths relative to `before`.
Result<git_oid> Pass::CommitFolderOn(const std::optional<git_oid>& parent, const FlatTree& files,
                                     const std::string& title, const FlatTree& before) {
  auto tree = ReplaceSubtree(repo_, parent ? &*parent : nullptr, spec_.path, files);
  if (!tree.ok()) return tree.status();
  auto changes = ChangedPaths(Managed(before), Managed(files));
  std::string prefix = spec_.path.empty() ? "" : spec_.path + "/";
  for (auto& c : changes) c.insert(2, prefix);
  std::string message = title + "\n\n" + ListedPaths(changes);
  std::vector<git_oid> parents;
  if (parent) parents.push_back(*parent);
  return Commit(*tree, parents, message);
}

// Records the new synced commit in memory; RunSyncPass writes state.json once at the end of the
// pass. A crash before that write is safe: the next pass finds the folder equal to the remote
// head and records it then (and a merge's journal, saved before its push, finishes the job).
Status Pass::SaveSynced(const git_oid& commit) {
  state_->last_synced_commit = OidHex(commit);
  // Keep the synced commit reachable inside our repository.
  git_reference* ref = nullptr;
  int rc = git_reference_create(&ref, repo_, "refs/gitsyncd/synced", &commit, 1, "gitsyncd synced");
  if (rc < 0) return GitError(rc, "cannot record synced commit");
  git_reference_free(ref);
  return Status::Ok();
}

Result<PassOutcome> Pass::PushLocal(const std::optional<git_oid>& remote_head, const FlatTree& local,
                                    const FlatTree& remote) {
  Status valid = CheckYamlFiles(repo_, local, remote, "local");
  if (!valid.ok()) return valid;
  auto changes = ChangedPaths(Managed(remote), Managed(local));
  auto commit = CommitFolderOn(remote_head, local, "gitsyncd: sync " + spec_.name, remote);
  if (!commit.ok()) return commit.status();
  return PushSyncCommit(*commit, changes.size());
}

Result<PassOutcome> Pass::PushSyncCommit(const git_oid& commit, size_t changes) {
  Status pushed = Push({{commit, "refs/heads/" + spec_.branch}});
  if (!pushed.ok()) return pushed;  // kConflict: the remote moved; the caller merges again
  state_->pending_local_changes = 0;
  Status s = SaveSynced(commit);
  if (!s.ok()) return s;
  return PassOutcome{"pushed " + Plural(changes, "change") + " (" + OidHex(commit).substr(0, 8) + ")", true, true};
}

Result<PassOutcome> Pass::ApplyRemote(const git_oid& remote_head, const FlatTree& scanned, const FlatTree& target,
                                      const std::string& what) {
  ApplyReport report;
  Status s = ApplyToFolder(repo_, spec_.local, scanned, target, &report);
  if (!s.ok()) return s;
  for (const auto& k : report.kept) state_->warnings.push_back("local edit to " + k + " kept; it is synced next");
  s = SaveSynced(remote_head);
  if (!s.ok()) return s;
  return PassOutcome{what + ": " + Plural(report.written.size(), "file") + " written, " +
                         std::to_string(report.deleted.size()) + " deleted",
                     true, report.kept.empty()};
}

// A merge was pushed but the process may have died before the folder was updated. If the
// remote head is that merge, finish the job; otherwise forget it (the push never landed).
Result<bool> Pass::RecoverPending(const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                  const FlatTree& remote) {
  auto pending = ParseOid(state_->pending_commit);
  auto local_tree = ParseOid(state_->pending_local_tree);
  state_->pending_commit.clear();
  state_->pending_local_tree.clear();
  if (!pending || !local_tree || !remote_head || !git_oid_equal(&*pending, &*remote_head)) {
    Status s = SaveBindingState(spec_.binding_dir, *state_);
    if (!s.ok()) return s;
    return false;
  }
  git_tree* t = nullptr;
  int rc = git_tree_lookup(&t, repo_, &*local_tree);
  if (rc < 0) return GitError(rc, "cannot read the journaled local tree");
  TreePtr tree(t);
  // What the folder held when the merge was made: files still like that are ours to update.
  FlatTree before;
  {
    git_index* idx = nullptr;
    git_index_new(&idx);
    IndexPtr index(idx);
    git_index_read_tree(idx, t);
    for (size_t i = 0; i < git_index_entrycount(idx); ++i) {
      const git_index_entry* e = git_index_get_byindex(idx, i);
      before[e->path] = FileEntry{e->id, e->mode};
    }
  }
  // Files changed since the merge keep their new content: treat the current scan as "seen"
  // only where it matches the journaled tree.
  FlatTree seen = before;
  for (const auto& [p, e] : scanned) {
    auto it = before.find(p);
    if (it != before.end() && !(it->second == e)) seen.erase(p);
  }
  ApplyReport report;
  Status s = ApplyToFolder(repo_, spec_.local, seen, remote, &report);
  if (!s.ok()) return s;
  s = SaveSynced(*remote_head);
  if (!s.ok()) return s;
  return true;
}

Result<PassOutcome> Pass::Merge(const std::optional<git_oid>& base, const FlatTree& base_tree,
                                const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                const FlatTree& local, const FlatTree& remote) {
  auto b = WriteTree(repo_, base_tree);
  auto l = WriteTree(repo_, local);
  auto r = WriteTree(repo_, remote);
  if (!b.ok() || !l.ok() || !r.ok()) return !b.ok() ? b.status() : !l.ok() ? l.status() : r.status();
  auto lookup = [&](const git_oid& id) {
    git_tree* t = nullptr;
    git_tree_lookup(&t, repo_, &id);
    return TreePtr(t);
  };
  TreePtr bt = lookup(*b), lt = lookup(*l), rt = lookup(*r);
  git_merge_options opts = GIT_MERGE_OPTIONS_INIT;
  git_index* idx_raw = nullptr;
  int rc = git_merge_trees(&idx_raw, repo_, bt.get(), lt.get(), rt.get(), &opts);
  if (rc < 0) return GitError(rc, "cannot merge local and remote changes");
  IndexPtr index(idx_raw);
  FlatTree merged;
  std::vector<std::string> conflicted;
  bool take_local = spec_.on_conflict == ConflictPolicy::kPreferLocal;
  for (size_t i = 0; i < git_index_entrycount(idx_raw); ++i) {
    const git_index_entry* e = git_index_get_byindex(idx_raw, i);
    int stage = git_index_entry_stage(e);
    if (stage == 0) {
      merged[e->path] = FileEntry{e->id, e->mode};
      continue;
    }
    std::string path = e->path;
    if (conflicted.empty() || conflicted.back() != path) conflicted.push_back(path);
    // Stage 2 = ours (local), 3 = theirs (remote). A side missing from the stages deleted it.
    if ((stage == 2 && take_local) || (stage == 3 && !take_local)) merged[path] = FileEntry{e->id, e->mode};
  }
  Status valid = CheckYamlFiles(repo_, merged, remote, "local");
  if (valid.ok()) valid = CheckYamlFiles(repo_, merged, local, "remote");
  if (!valid.ok()) return valid;

  // The pure local state, as a commit on the last synced one: never lost, whatever happens.
  std::optional<git_oid> local_parent = base ? base : remote_head;
  auto local_commit = CommitFolderOn(local_parent, local, "gitsyncd: local changes of " + spec_.name, base_tree);
  if (!local_commit.ok()) return local_commit.status();

  std::vector<RefUpdate> updates;
  std::optional<git_oid> new_head = remote_head;
  bool remote_unchanged = merged == remote;
  if (!remote_unchanged) {
    auto tree = ReplaceSubtree(repo_, remote_head ? &*remote_head : nullptr, spec_.path, merged);
    if (!tree.ok()) return tree.status();
    std::string message = "gitsyncd: merge local changes of " + spec_.name + "\n\n";
    for (const auto& c : ChangedPaths(Managed(remote), Managed(merged))) message += c + "\n";
    if (!conflicted.empty()) {
      message += "\nConflicts (" + std::string(ConflictPolicyName(spec_.on_conflict)) + "):\n";
      for (const auto& c : conflicted) message += "  " + c + "\n";
    }
    std::vector<git_oid> parents;
    if (remote_head) parents.push_back(*remote_head);
    parents.push_back(*local_commit);
    auto merge = Commit(*tree, parents, message);
    if (!merge.ok()) return merge.status();
    new_head = *merge;
    updates.push_back({*merge, "refs/heads/" + spec_.branch});
  }
  ConflictRecord record;
  if (!conflicted.empty()) {
    record.branch = "gitsyncd/conflicts/" + RefSafe(spec_.name) + "/" + CompactTimestamp();
    record.time = NowIso8601();
    record.policy = std::string(ConflictPolicyName(spec_.on_conflict));
    record.files = conflicted;
    record.resolved = spec_.on_conflict != ConflictPolicy::kKeepBoth;
    // The losing side goes to the conflict branch.
    git_oid loser = take_local && remote_head ? *remote_head : *local_commit;
    updates.push_back({loser, "refs/heads/" + record.branch});
  }
  if (!updates.empty()) {
    state_->pending_commit = new_head ? OidHex(*new_head) : "";
    state_->pending_local_tree = OidHex(*l);
    Status s = SaveBindingState(spec_.binding_dir, *state_);
    if (!s.ok()) return s;
    Status pushed = Push(updates);
    if (!pushed.ok()) {
      state_->pending_commit.clear();
      state_->pending_local_tree.clear();
      SaveBindingState(spec_.binding_dir, *state_);
      return pushed;
    }
  }
  ApplyReport report;
  Status s = ApplyToFolder(repo_, spec_.local, scanned, merged, &report);
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
  return PassOutcome{summary, true, report.kept.empty()};
}

// The remote branch head: fetched with Git, or (fetch: api) a snapshot of the folder read
// through the provider's API.
Result<std::optional<git_oid>> Pass::Fetch() {
  if (!spec_.api) return FetchBranch(repo_, spec_.remote, spec_.branch);
  auto r = FetchFolderViaApi(repo_, spec_.binding_dir, *spec_.api, spec_.branch, spec_.path);
  if (!r.ok()) return Status(r.status()).WithContext("fetch " + spec_.branch + " through " + spec_.api->api_base);
  for (auto& w : r->warnings) state_->warnings.push_back(std::move(w));
  return r->snapshot;
}

// Pushed with Git, or (fetch: api) written through the provider's commit API.
Status Pass::Push(const std::vector<RefUpdate>& updates) {
  Status pushed = spec_.api ? PushViaApi(repo_, {*spec_.api, spec_.binding_dir, spec_.branch, spec_.path, spec_.author},
                                         updates)
                            : PushRefs(repo_, spec_.remote, updates);
  if (pushed.ok()) {
    pushed_after_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }
  return pushed;
}

Result<PassOutcome> Pass::PushChanges(const git_oid& parent, const ChangeList& changes) {
  FlatTree before, after;
  for (const auto& c : changes) {
    if (c.before) before[c.path] = *c.before;
    if (c.after) after[c.path] = *c.after;
  }
  Status valid = CheckYamlFiles(repo_, after, before, "local");
  if (!valid.ok()) return valid;
  auto tree = UpdateTreeOfCommit(repo_, parent, spec_.path, changes);
  if (!tree.ok()) return tree.status();
  std::string prefix = spec_.path.empty() ? "" : spec_.path + "/";
  auto commit = Commit(*tree, {parent}, "gitsyncd: sync " + spec_.name + "\n\n" + ListedPaths(DescribeChanges(changes, prefix)));
  if (!commit.ok()) return commit.status();
  // Stored whatever the push says: refs/gitsyncd/push names the commit from now on.
  auto created = ObjectsOfCommit(repo_, *commit, *tree, spec_.path, changes);
  if (!created.ok()) return created.status();
  buffered_ = std::move(created).value();
  auto pushed = PushSyncCommit(*commit, changes.size());
  if (pushed.ok()) pushed->incremental = true;
  return pushed;
}

// The common passes decided from the changed paths alone: a local edit pushed on the synced
// commit, a remote push applied to the folder, or nothing to do. Both sides changed (a merge),
// a deleted branch, `direction: push` over a moved remote, symlinks, and files turned into
// folders return nullopt: the full pass decides those.
Result<std::optional<PassOutcome>> Pass::RunIncremental(const std::set<std::string>& changed,
                                                        bool local_trigger_only) {
  using Maybe = std::optional<PassOutcome>;
  std::optional<git_oid> base = ParseOid(state_->last_synced_commit);
  if (!base || !state_->pending_commit.empty() || spec_.api || spec_.direction == SyncDirection::kPull) return Maybe();
  auto base_folder = FolderTreeOfCommit(repo_, &*base, spec_.path);
  if (!base_folder.ok()) return base_folder.status();
  auto local = LocalChangesAt(repo_, spec_.local, base_folder->get(), changed);
  if (!local.ok()) return local.status();
  if (!*local || !IsSimpleChangeList(**local)) return Maybe();
  const ChangeList& local_changes = **local;
  state_->pending_local_changes = static_cast<uint32_t>(local_changes.size());
  if (local_trigger_only) {
    if (local_changes.empty()) return Maybe(PassOutcome{"in sync", false, true, true});
    // Straight on the synced commit; a rejected push (the remote moved) passes again and merges.
    auto pushed = PushChanges(*base, local_changes);
    if (!pushed.ok()) return pushed.status();
    return Maybe(*pushed);
  }
  auto fetched = Fetch();
  if (!fetched.ok()) return fetched.status();
  if (!*fetched) return Maybe();
  const git_oid remote_head = **fetched;
  if (git_oid_equal(&remote_head, &*base)) {
    if (local_changes.empty()) return Maybe(PassOutcome{"in sync", true, true, true});
    auto pushed = PushChanges(*base, local_changes);
    if (!pushed.ok()) return pushed.status();
    return Maybe(*pushed);
  }
  if (!local_changes.empty() || spec_.direction != SyncDirection::kBidirectional) return Maybe();
  auto remote_folder = FolderTreeOfCommit(repo_, &remote_head, spec_.path);
  if (!remote_folder.ok()) return remote_folder.status();
  auto remote_changes = DiffFolderTrees(repo_, base_folder->get(), remote_folder->get());
  if (!remote_changes.ok()) return remote_changes.status();
  if (!IsSimpleChangeList(*remote_changes)) return Maybe();
  // A changed file the watcher has not reported yet (still in its debounce) is a local edit
  // too: then both sides changed, and the full pass merges.
  for (const auto& c : *remote_changes) {
    if (!ParentsAreRealFolders(spec_.local, c.path)) return Maybe();
    auto now = HashLocalFile(spec_.local + "/" + c.path);
    if (!now.ok()) return now.status();
    bool as_synced = now->has_value() == c.before.has_value() && (!c.before || **now == *c.before);
    bool as_remote = c.after && now->has_value() && **now == *c.after;
    if (!as_synced && !as_remote) return Maybe();
  }
  // Only the changed paths: every other file of the folder is as synced and stays untouched.
  FlatTree seen, target;
  for (const auto& c : *remote_changes) {
    if (c.before) seen[c.path] = *c.before;
    if (c.after) target[c.path] = *c.after;
  }
  Status valid = CheckYamlFiles(repo_, target, seen, "remote");
  if (!valid.ok()) return valid;
  auto pulled = ApplyRemote(remote_head, seen, target, "pulled");
  if (!pulled.ok()) return pulled.status();
  pulled->incremental = true;
  return Maybe(*pulled);
}

// The incremental pass on a handle whose new objects stay in memory until it ends (see
// object_buffer.h), so a push goes out without creating a file per object first.
Result<std::optional<PassOutcome>> Pass::RunIncrementalBuffered(const std::set<std::string>& changed,
                                                                bool local_trigger_only) {
  auto buffer = ObjectBuffer::Open(spec_.binding_dir + "/repo");
  if (!buffer.ok()) return RunIncremental(changed, local_trigger_only);  // loose objects, as the full pass
  git_repository* disk = repo_;
  repo_ = (*buffer)->repo();
  buffered_.clear();
  auto result = RunIncremental(changed, local_trigger_only);
  repo_ = disk;
  // Before anything names them in state.json, and before the full pass runs on `disk`.
  Status stored = (*buffer)->WriteTo(disk, buffered_);
  if (!stored.ok()) return stored;
  return result;
}

Result<PassOutcome> Pass::Run(const PassOptions& options) {
  if (options.changed_paths != nullptr) {
    auto fast = RunIncrementalBuffered(*options.changed_paths, options.local_trigger_only);
    if (!fast.ok()) return fast.status();
    if (*fast) return **fast;
  }
  return RunFull(options.local_trigger_only);
}

Result<PassOutcome> Pass::RunFull(bool local_trigger_only) {
  std::vector<std::string> skipped;
  std::string cache_file = spec_.binding_dir + "/scan-cache";
  ScanCache cache = LoadScanCache(cache_file);
  auto scanned = ScanFolder(repo_, spec_.local, &skipped, &cache);
  if (!scanned.ok()) return scanned.status();
  if (cache.dirty) SaveScanCache(cache_file, cache);  // only a speed-up: a failure costs a re-read
  std::optional<git_oid> base = ParseOid(state_->last_synced_commit);
  auto base_tree = SubtreeOfCommit(repo_, base ? &*base : nullptr, spec_.path);
  if (!base_tree.ok()) return base_tree.status();
  state_->warnings = skipped;

  if (local_trigger_only && state_->pending_commit.empty() && base && Managed(*scanned) == Managed(*base_tree)) {
    return PassOutcome{"in sync", false, true};
  }

  // A local edit on top of the last synced state: push it straight on the last synced commit.
  // If the remote moved meanwhile the push is rejected (never forced) and the full path below
  // fetches and merges. This saves a fetch round trip for the common case.
  if (local_trigger_only && base && state_->pending_commit.empty() && spec_.direction != SyncDirection::kPull) {
    FlatTree local = *scanned;
    for (const auto& [p, e] : UnmanagedEntries(*base_tree)) local[p] = e;
    auto pushed = PushLocal(base, local, *base_tree);
    if (pushed.ok() || pushed.status().code() != Status::Code::kConflict) return pushed;
  }

  auto fetched = Fetch();
  if (!fetched.ok()) return fetched.status();
  std::optional<git_oid> remote_head = *fetched;
  auto remote = SubtreeOfCommit(repo_, remote_head ? &*remote_head : nullptr, spec_.path);
  if (!remote.ok()) return remote.status();
  for (const auto& [p, e] : UnmanagedEntries(*remote)) {
    state_->warnings.push_back(std::string(e.mode == GIT_FILEMODE_LINK ? "remote symlink " : "remote submodule ") + p +
                               ": not synced (kept in the repository)");
  }

  if (!state_->pending_commit.empty()) {
    auto recovered = RecoverPending(remote_head, *scanned, *remote);
    if (!recovered.ok()) return recovered.status();
    if (*recovered) return PassOutcome{"finished applying an interrupted merge", true};
  }

  if (base && !remote_head) {
    // A deleted branch never deletes the folder, and is not silently re-created either.
    return Status::NotFound("branch " + spec_.branch + " no longer exists on " + spec_.remote.url +
                            "; the local folder is kept and nothing is pushed");
  }
  // What the folder means for the repository: its files plus what it cannot hold.
  FlatTree local = *scanned;
  for (const auto& [p, e] : UnmanagedEntries(*remote)) local[p] = e;
  FlatTree base_full = *base_tree;
  bool local_changed = Managed(local) != Managed(base_full);
  bool remote_changed = *remote != base_full;
  state_->pending_local_changes = static_cast<uint32_t>(ChangedPaths(Managed(base_full), Managed(local)).size());

  if (local == *remote) {
    if (remote_head && (!base || !git_oid_equal(&*base, &*remote_head))) {
      state_->pending_local_changes = 0;
      Status s = SaveSynced(*remote_head);
      if (!s.ok()) return s;
    }
    return PassOutcome{"in sync", true, true};
  }
  switch (spec_.direction) {
    case SyncDirection::kPush:
      return PushLocal(remote_head, local, *remote);
    case SyncDirection::kPull: {
      if (!remote_changed) {
        if (local_changed) state_->warnings.push_back("local edits are not pushed (direction: pull)");
        return PassOutcome{"in sync (local edits kept)", true};
      }
      // Local edits stay: the target keeps the local version of every locally changed file.
      FlatTree target = *remote;
      for (const auto& [p, e] : Managed(base_full)) {
        auto l = local.find(p);
        if (l == local.end() || !(l->second == e)) target.erase(p);
      }
      for (const auto& [p, e] : Managed(local)) {
        auto b = base_full.find(p);
        if (b == base_full.end() || !(b->second == e)) {
          target[p] = e;
          state_->warnings.push_back("local edit to " + p + " kept; not pushed (direction: pull)");
        }
      }
      Status valid = CheckYamlFiles(repo_, target, local, "remote");
      if (!valid.ok()) return valid;
      auto pulled = ApplyRemote(*remote_head, *scanned, target, "pulled");
      if (pulled.ok() && local_changed) pulled->folder_in_step = false;  // local edits stay unsynced
      return pulled;
    }
    case SyncDirection::kBidirectional:
      break;
  }
  if (!remote_changed) return PushLocal(remote_head, local, *remote);
  if (!local_changed) {
    Status valid = CheckYamlFiles(repo_, *remote, local, "remote");
    if (!valid.ok()) return valid;
    return ApplyRemote(*remote_head, *scanned, *remote, "pulled");
  }
  return Merge(base, base_full, remote_head, *scanned, local, *remote);
}

}  // namespace

BindingSpec MakeBindingSpec(const DaemonConfig& daemon, const ConnectorConfig& connector, const SyncBinding& sync,
                            RemoteCredentials remote) {
  BindingSpec spec;
  spec.name = sync.name;
  spec.branch = sync.branch;
  spec.path = sync.path;
  spec.local = sync.local;
  spec.binding_dir = BindingStateDir(daemon, sync.name);
  spec.direction = sync.direction;
  spec.on_conflict = sync.on_conflict;
  spec.author = connector.commit_author;
  if (connector.fetch == FetchMode::kApi) {
    ApiTarget api;
    api.provider = connector.provider;
    api.api_base = connector.api.url;
    api.api_version = connector.api.version;
    api.remote_url = sync.remote_url;
    api.repo = RepoPathFromUrl(sync.remote_url);
    api.token = remote.api_token;
    api.http.ca_file = daemon.ca_file;
    spec.api = std::move(api);
  }
  spec.remote = std::move(remote);
  return spec;
}

Result<PassOutcome> RunSyncPass(const BindingSpec& spec, const PassOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto state = LoadBindingState(spec.binding_dir);
  if (!state.ok()) return state.status();
  auto repo = OpenRepo(spec.binding_dir);
  Result<PassOutcome> outcome = Status::Internal("no pass ran");
  if (repo.ok()) {
    for (int attempt = 0; attempt < kMaxPushAttempts; ++attempt) {
      Pass pass(spec, repo->get(), &*state, started);
      PassOptions this_time = options;
      this_time.local_trigger_only = options.local_trigger_only && attempt == 0;
      outcome = pass.Run(this_time);
      if (outcome.ok()) outcome->pushed_after_s = pass.pushed_after_s();
      // A rejected push means the remote moved: fetch and merge again, never force.
      if (outcome.ok() || outcome.status().code() != Status::Code::kConflict) break;
      spdlog::info("sync '{}': push rejected, the remote moved; merging again", spec.name);
    }
  } else {
    outcome = repo.status();
  }
  if (outcome.ok()) {
    ++state->passes;
    state->last_error.clear();
    state->last_error_time.clear();
    state->consecutive_failures = 0;
    state->last_success_time = NowIso8601();
  } else {
    state->last_error = outcome.status().message();
    state->last_error_time = NowIso8601();
    ++state->consecutive_failures;
  }
  Status saved = SaveBindingState(spec.binding_dir, *state);
  if (!saved.ok() && outcome.ok()) return saved;
  return outcome;
}

}  // namespace gitsyncd
