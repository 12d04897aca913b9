// Building commits in the binding's repository, fetching and pushing them, and applying the
// remote side to the folder.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "sync/api_fetch.h"
#include "sync/api_push.h"
#include "sync/pass_context.h"
#include "sync/pass_timer.h"
#include "sync/shared_store.h"
#include "sync/yaml_check.h"

namespace gitsyncd::pass {

namespace {
constexpr size_t kMaxListedPaths = 100;
}  // namespace

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

std::string ListedPaths(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < kMaxListedPaths; ++i) out += lines[i] + "\n";
  if (lines.size() > kMaxListedPaths) out += "... and " + std::to_string(lines.size() - kMaxListedPaths) + " more\n";
  return out;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::string Plural(size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

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
                                     const std::string& note, const FlatTree& before) {
  auto tree = ReplaceSubtree(repo_, parent ? &*parent : nullptr, spec_.path, files);
  if (!tree.ok()) return tree.status();
  std::string message = CommitMessage(ChangedPaths(Managed(before), Managed(files)), note);
  std::vector<git_oid> parents;
  if (parent) parents.push_back(*parent);
  return Commit(*tree, parents, message);
}

// The template's title for changes `lines` ("A path", relative to the folder), then `note` and
// the changed paths (relative to the repository) as the body, capped as a whole.
std::string Pass::CommitMessage(const std::vector<std::string>& lines, const std::string& note) const {
  CommitMessageValues values{spec_.name, spec_.connector, spec_.branch, HostName(), {}};
  std::string prefix = spec_.path.empty() ? "" : spec_.path + "/";
  std::vector<std::string> listed;
  for (const auto& l : lines) {
    values.files.push_back(l.substr(2));
    listed.push_back(l.substr(0, 2) + prefix + l.substr(2));
  }
  std::string body = (note.empty() ? "" : note + "\n\n") + ListedPaths(listed);
  return CappedCommitMessage(ExpandCommitMessage(spec_.commit_message, values), body);
}

// Records the new synced commit in memory; RunSyncPass writes state.json once at the end of the
// pass. A crash before that write is safe: the next pass finds the folder equal to the remote
// head and records it then (and a merge's journal, saved before its push, finishes the job).
Status Pass::SaveSynced(const git_oid& commit) {
  state_->last_synced_commit = OidHex(commit);
  // state.json names it too, and the maintenance keeps what state.json names; with a shared
  // store the ref would only cost a file and two folders per binding.
  if (!spec_.shared_store.empty()) return Status::Ok();
  // Keep the synced commit reachable inside our repository.
  git_reference* ref = nullptr;
  int rc = git_reference_create(&ref, repo_, "refs/gitsyncd/synced", &commit, 1, "gitsyncd synced");
  if (rc < 0) return GitError(rc, "cannot record synced commit");
  ReferencePtr recorded(ref);
  return Status::Ok();
}

Result<PassOutcome> Pass::PushLocal(const std::optional<git_oid>& remote_head, const FlatTree& local,
                                    const FlatTree& remote) {
  Status valid = CheckYamlFiles(repo_, local, remote, "local", &state_->warnings);
  if (!valid.ok()) return valid;
  auto changes = ChangedPaths(Managed(remote), Managed(local));
  auto commit = CommitFolderOn(remote_head, local, "", remote);
  if (!commit.ok()) return commit.status();
  MarkPassStep("commit build");
  return PushSyncCommit(*commit, changes.size());
}

Result<PassOutcome> Pass::PushSyncCommit(const git_oid& commit, size_t changes) {
  Status pushed = Push({{commit, "refs/heads/" + spec_.branch}});
  if (!pushed.ok()) return pushed;  // kConflict: the remote moved; the caller merges again
  state_->pending_local_changes = 0;
  Status s = SaveSynced(commit);
  if (!s.ok()) return s;
  PassOutcome out{"pushed " + Plural(changes, "change") + " (" + OidHex(commit).substr(0, 8) + ")", true, true};
  out.direction = "push";
  return out;
}

Result<PassOutcome> Pass::ApplyRemote(const git_oid& remote_head, const FlatTree& scanned, const FlatTree& target,
                                      const std::string& what) {
  ApplyReport report;
  Status s = ApplyFolder(scanned, target, &report);
  if (!s.ok()) return s;
  MarkPassStep("folder write");
  for (const auto& k : report.kept) state_->warnings.push_back("local edit to " + k + " kept; it is synced next");
  // A kept file holds an edit made on the last synced commit, not on the remote head: that
  // commit stays the base, so the next pass merges the edit with the remote's change (or
  // records a conflict) instead of pushing it over the remote's version.
  if (report.kept.empty()) s = SaveSynced(remote_head);
  if (!s.ok()) return s;
  PassOutcome out{what + ": " + Plural(report.written.size(), "file") + " written, " +
                      std::to_string(report.deleted.size()) + " deleted",
                  true, report.kept.empty()};
  out.direction = "pull";
  return out;
}

// The remote branch head: fetched with Git, or (fetch: api) a snapshot of the folder read
// through the provider's API.
Result<std::optional<git_oid>> Pass::Fetch() {
  if (!spec_.api && spec_.shared_store.empty()) return FetchBranch(repo_, spec_.remote, spec_.branch);
  if (!spec_.api) return FetchShared();
  auto r = FetchFolderViaApi(repo_, spec_.binding_dir, *spec_.api, spec_.branch, spec_.path);
  if (!r.ok()) return Status(r.status()).WithContext("fetch " + spec_.branch + " through " + spec_.api->api_base);
  for (auto& w : r->warnings) state_->warnings.push_back(std::move(w));
  return r->snapshot;
}

// Through the remote's shared store: a fetch that began after this pass's trigger answers it.
// The head is not recorded in the binding's repository: the store keeps every object it
// fetched, and state.json names the commit once the folder holds it.
Result<std::optional<git_oid>> Pass::FetchShared() {
  return SharedFetch({spec_.shared_store, spec_.connector, spec_.branch, fetch_not_before_}, spec_.remote);
}

// Pushed with Git, or (fetch: api) written through the provider's commit API.
Status Pass::Push(const std::vector<RefUpdate>& updates) {
  Status valid = ValidateLocal(updates);
  if (!valid.ok()) return valid;
  MarkPassStep("validate_local hook");
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
  Status valid = CheckYamlFiles(repo_, after, before, "local", &state_->warnings);
  if (!valid.ok()) return valid;
  auto tree = UpdateTreeOfCommit(repo_, parent, spec_.path, changes);
  if (!tree.ok()) return tree.status();
  auto commit = Commit(*tree, {parent}, CommitMessage(DescribeChanges(changes, ""), ""));
  if (!commit.ok()) return commit.status();
  // Stored whatever the push says: refs/gitsyncd/push names the commit from now on.
  auto created = ObjectsOfCommit(repo_, *commit, *tree, spec_.path, changes);
  if (!created.ok()) return created.status();
  buffered_ = std::move(created).value();
  MarkPassStep("commit build");
  auto pushed = PushSyncCommit(*commit, changes.size());
  if (!pushed.ok()) return pushed;
  pushed->incremental = true;
  ShareCommit(parent, *commit);
  return pushed;
}

void Pass::ShareCommit(const git_oid& parent, const git_oid& commit) {
  if (spec_.shared_store.empty()) return;
  git_odb* raw = nullptr;
  int rc = git_repository_odb(&raw, repo_);
  OdbPtr odb(raw);
  Status s = rc < 0 ? GitError(rc, "cannot open the object database")
                    : RecordSharedPush({spec_.shared_store, spec_.connector, spec_.branch}, raw, parent, commit, buffered_);
  // Only a speed-up for the siblings' next edits: the objects are stored in this binding's
  // repository either way (ObjectBuffer::WriteTo).
  if (!s.ok()) spdlog::warn("sync '{}': {}", spec_.name, s.message());
  MarkPassStep("shared with the store");
}

}  // namespace gitsyncd::pass
