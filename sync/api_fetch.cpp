#include "sync/api_fetch.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <set>
#include <sstream>

#include "sync/api_state.h"
#include "sync/folder_tree.h"
#include "sync/git_handles.h"
#include "sync/remote_path.h"

namespace gitsyncd {
namespace {

std::optional<git_oid> Oid(const std::string& hex) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) != 0) return std::nullopt;
  return oid;
}

// Downloads `entries` into tmp files <binding_dir>/api-download-<i>.tmp over up to `parallel`
// connections; returns the first failure (in entry order).
Status DownloadAll(const ApiTarget& target, ProviderApi& first, const std::vector<const RemoteEntry*>& entries,
                   const std::string& binding_dir, unsigned parallel) {
  std::vector<Status> results(entries.size());
  std::atomic<size_t> next{0};
  auto work = [&](ProviderApi& api) {
    for (size_t i; (i = next++) < entries.size();) {
      results[i] = api.Download(*entries[i], binding_dir + "/api-download-" + std::to_string(i) + ".tmp");
    }
  };
  unsigned extra = static_cast<unsigned>(std::min<size_t>(parallel, entries.size())) - 1;
  std::vector<std::unique_ptr<ProviderApi>> readers;
  for (unsigned i = 0; i < extra; ++i) {
    auto r = MakeProviderApi(target);
    if (r.ok()) readers.push_back(std::move(r).value());
  }
  std::vector<std::thread> threads;
  for (auto& r : readers) threads.emplace_back([&work, reader = r.get()] { work(*reader); });
  work(first);
  for (auto& t : threads) t.join();
  for (const Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}


// The folder's files as of the last snapshot, and which of them the provider reports changed
// since, for readers whose listings carry no blob ids (Bitbucket Cloud). Nullopt: no usable
// comparison, so everything is downloaded.
struct PreviousSnapshot {
  FlatTree files;
  std::set<std::string> changed;  // repository paths
};
std::optional<PreviousSnapshot> ComparableSnapshot(git_repository* repo, git_odb* odb, ProviderApi& api,
                                                   const ApiState& state, const std::string& head,
                                                   const std::string& path) {
  auto prev = Oid(state.snapshot);
  if (!prev || state.remote_commit.empty() || !git_odb_exists(odb, &*prev)) return std::nullopt;
  auto diff = api.ChangedFiles(state.remote_commit, head);
  auto tree = SubtreeOfCommit(repo, &*prev, path);
  if (!diff.ok() || !tree.ok()) {
    spdlog::warn("api: cannot compare {} with {} ({}); downloading every file of the folder", state.remote_commit, head,
                 diff.ok() ? tree.status().message() : diff.status().message());
    return std::nullopt;
  }
  return PreviousSnapshot{std::move(*tree), {diff->begin(), diff->end()}};
}

// A file the provider reports unchanged since the last snapshot keeps that snapshot's
// content, if its size agrees.
std::optional<git_oid> Unchanged(git_odb* odb, const std::optional<PreviousSnapshot>& previous, const RemoteEntry& e) {
  if (!previous || previous->changed.count(e.repo_path)) return std::nullopt;
  auto it = previous->files.find(e.path);
  if (it == previous->files.end()) return std::nullopt;
  size_t len = 0;
  git_object_t type;
  if (git_odb_read_header(&len, &type, odb, &it->second.oid) != 0 || (e.size_known && len != e.size)) {
    return std::nullopt;
  }
  return it->second.oid;
}

// The folder's files from the listing; `missing` gets those not in the repository yet.
Result<FlatTree> PlanFiles(git_odb* odb, const ProviderApi& api, const std::vector<RemoteEntry>& entries,
                           const std::optional<PreviousSnapshot>& previous, std::vector<const RemoteEntry*>* missing,
                           ApiFetchResult* result) {
  FlatTree files;
  for (const RemoteEntry& e : entries) {
    if (e.kind != RemoteEntry::Kind::kFile) {
      result->warnings.push_back(std::string(e.kind == RemoteEntry::Kind::kSymlink ? "remote symlink " : "remote submodule ") +
                                 e.path + ": not synced (fetch: api reads regular files only)");
      continue;
    }
    FileEntry fe;
    fe.mode = e.executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
    if (e.blob_id.empty() && !api.ListsBlobIds()) {
      if (auto same = Unchanged(odb, previous, e)) {
        fe.oid = *same;
      } else {
        missing->push_back(&e);
      }
      files[e.path] = fe;
      continue;
    }
    auto want = Oid(e.blob_id);
    if (!want) return Status::Corrupted("remote file " + e.path + " has an invalid blob id '" + e.blob_id + "'");
    if (!git_odb_exists(odb, &*want)) missing->push_back(&e);
    fe.oid = *want;
    files[e.path] = fe;
  }
  return files;
}

// Stores downloaded file `e` (in `tmp`) as a blob, checked against its blob id or size.
Status StoreDownload(git_repository* repo, git_odb* odb, const RemoteEntry& e, const std::string& tmp, FlatTree* files) {
  git_oid written;
  if (int rc = git_blob_create_from_disk(&written, repo, tmp.c_str()); rc < 0) {
    return GitError(rc, "store downloaded file " + e.path);
  }
  if (!e.blob_id.empty()) {
    if (OidHex(written) == e.blob_id) return Status::Ok();
    return Status::Corrupted("downloaded content of " + e.path + " does not match its blob id " + e.blob_id + " (got " +
                             OidHex(written) + "); nothing applied");
  }
  // No id to check against: at least the size the listing gave must match.
  size_t len = 0;
  git_object_t type;
  if (e.size_known && (git_odb_read_header(&len, &type, odb, &written) != 0 || len != e.size)) {
    return Status::Corrupted("downloaded content of " + e.path + " has " + std::to_string(len) +
                             " bytes, the listing said " + std::to_string(e.size) + "; nothing applied");
  }
  (*files)[e.path].oid = written;
  return Status::Ok();
}

// Downloads and stores what is missing; the temporary files are removed whatever happens.
Status FetchMissing(git_repository* repo, git_odb* odb, const ApiTarget& target, ProviderApi& api,
                    const std::vector<const RemoteEntry*>& missing, const std::string& binding_dir, unsigned parallel,
                    FlatTree* files, ApiFetchResult* result) {
  Status stored = missing.empty() ? Status::Ok() : DownloadAll(target, api, missing, binding_dir, parallel);
  for (size_t i = 0; i < missing.size(); ++i) {
    std::string tmp = binding_dir + "/api-download-" + std::to_string(i) + ".tmp";
    if (stored.ok()) stored = StoreDownload(repo, odb, *missing[i], tmp, files);
    if (stored.ok()) ++result->downloaded;
    ::unlink(tmp.c_str());
  }
  return stored;
}

// Commits the folder's files as the binding's API snapshot of `head`. The previous snapshot
// is the parent, so the binding's history stays connected and the last synced snapshot is
// always an ancestor for merges.
Result<git_oid> CommitSnapshot(git_repository* repo, git_odb* odb, const ApiState& state, const FlatTree& files,
                               const std::string& branch, const std::string& path, const std::string& head) {
  auto tree_id = ReplaceSubtree(repo, nullptr, path, files);
  if (!tree_id.ok()) return tree_id.status();
  auto tree = LookupTree(repo, *tree_id);
  if (!tree.ok()) return tree.status().WithContext("read snapshot tree");
  git_signature* sig_raw = nullptr;
  if (int rc = git_signature_now(&sig_raw, "gitsyncd", "gitsyncd@localhost"); rc < 0) return GitError(rc, "signature");
  SignaturePtr sig(sig_raw);
  std::vector<git_commit*> parents;
  CommitPtr parent;
  if (auto prev = Oid(state.snapshot); prev && git_odb_exists(odb, &*prev)) {
    git_commit* p = nullptr;
    if (git_commit_lookup(&p, repo, &*prev) == 0) {
      parent.reset(p);
      parents.push_back(p);
    }
  }
  std::string message = "API snapshot of " + branch + (path.empty() ? "" : ":" + path) + " at " + head + "\n";
  git_oid commit;
  int rc = git_commit_create(&commit, repo, nullptr, sig.get(), sig.get(), nullptr, message.c_str(), tree->get(),
                             parents.size(), const_cast<const git_commit**>(parents.data()));
  if (rc < 0) return GitError(rc, "record API snapshot");
  return commit;
}

}  // namespace

Result<ApiFetchResult> FetchFolderViaApi(git_repository* repo, const std::string& binding_dir, const ApiTarget& target,
                                         const std::string& branch, const std::string& path, unsigned parallel) {
  ApiFetchResult result;
  auto made = MakeProviderApi(target);
  if (!made.ok()) return made.status();
  ProviderApi& api = **made;
  auto head = api.BranchHead(branch);
  if (!head.ok()) {
    if (head.status().code() != Status::Code::kNotFound) return head.status();
    // A 404 means a deleted branch only when the repository can still be read: a token that lost
    // access to it, or a repository moved away, answers 404 too, and must fail the pass.
    if (auto access = api.CheckAccess(); !access.ok()) return access.status();
    return result;  // branch gone
  }
  ApiState state = LoadApiState(binding_dir);
  git_odb* odb_raw = nullptr;
  if (int rc = git_repository_odb(&odb_raw, repo); rc < 0) return GitError(rc, "open object database");
  OdbPtr odb(odb_raw);
  if (state.remote_commit == *head) {
    if (auto snap = Oid(state.snapshot); snap && git_odb_exists(odb.get(), &*snap)) {
      result.snapshot = *snap;
      return result;
    }
  }
  auto entries = api.ListFolder(*head, path);
  if (!entries.ok() && entries.status().code() == Status::Code::kCorrupted) {
    return RefusedCommit(branch, *head, entries.status());  // an unsafe name: nothing of it is used
  }
  if (!entries.ok()) return entries.status();
  std::optional<PreviousSnapshot> previous;
  if (!api.ListsBlobIds()) previous = ComparableSnapshot(repo, odb.get(), api, state, *head, path);
  std::vector<const RemoteEntry*> missing;
  auto files = PlanFiles(odb.get(), api, *entries, previous, &missing, &result);
  if (!files.ok()) return files.status();
  Status fetched = FetchMissing(repo, odb.get(), target, api, missing, binding_dir, parallel, &*files, &result);
  if (!fetched.ok()) return fetched;
  auto commit = CommitSnapshot(repo, odb.get(), state, *files, branch, path, *head);
  if (!commit.ok()) return commit.status();
  state.SetHead(OidHex(*commit), *head);
  if (Status s = SaveApiState(binding_dir, state); !s.ok()) return s;
  result.snapshot = *commit;
  return result;
}

}  // namespace gitsyncd
