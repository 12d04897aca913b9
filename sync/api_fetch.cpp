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

}  // namespace

namespace {

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
  std::unique_ptr<git_odb, decltype(&git_odb_free)> odb(odb_raw, git_odb_free);
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

  // Readers whose listings carry no blob ids (Bitbucket Cloud): a file the provider reports
  // unchanged since the last snapshot keeps that snapshot's content (if its size agrees); the
  // others are downloaded and hashed. Without a usable comparison everything is downloaded.
  std::optional<FlatTree> previous;
  std::set<std::string> changed;
  if (!api.ListsBlobIds()) {
    auto prev = Oid(state.snapshot);
    if (prev && !state.remote_commit.empty() && git_odb_exists(odb.get(), &*prev)) {
      auto diff = api.ChangedFiles(state.remote_commit, *head);
      auto tree = SubtreeOfCommit(repo, &*prev, path);
      if (diff.ok() && tree.ok()) {
        previous = std::move(*tree);
        changed.insert(diff->begin(), diff->end());
      } else {
        spdlog::warn("api: cannot compare {} with {} ({}); downloading every file of the folder", state.remote_commit,
                     *head, diff.ok() ? tree.status().message() : diff.status().message());
      }
    }
  }
  auto unchanged = [&](const RemoteEntry& e) -> std::optional<git_oid> {
    if (!previous || changed.count(e.repo_path)) return std::nullopt;
    auto it = previous->find(e.path);
    if (it == previous->end()) return std::nullopt;
    size_t len = 0;
    git_object_t type;
    if (git_odb_read_header(&len, &type, odb.get(), &it->second.oid) != 0 || (e.size_known && len != e.size)) {
      return std::nullopt;
    }
    return it->second.oid;
  };

  // Which files are new to this repository; only those are downloaded.
  FlatTree files;
  std::vector<const RemoteEntry*> missing;
  for (const RemoteEntry& e : *entries) {
    if (e.kind != RemoteEntry::Kind::kFile) {
      result.warnings.push_back(std::string(e.kind == RemoteEntry::Kind::kSymlink ? "remote symlink " : "remote submodule ") +
                                e.path + ": not synced (fetch: api reads regular files only)");
      continue;
    }
    FileEntry fe;
    fe.mode = e.executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
    if (e.blob_id.empty() && !api.ListsBlobIds()) {
      if (auto same = unchanged(e)) {
        fe.oid = *same;
      } else {
        missing.push_back(&e);
      }
      files[e.path] = fe;
      continue;
    }
    auto want = Oid(e.blob_id);
    if (!want) return Status::Corrupted("remote file " + e.path + " has an invalid blob id '" + e.blob_id + "'");
    if (!git_odb_exists(odb.get(), &*want)) missing.push_back(&e);
    fe.oid = *want;
    files[e.path] = fe;
  }
  Status downloaded = missing.empty() ? Status::Ok() : DownloadAll(target, api, missing, binding_dir, parallel);
  Status stored = downloaded;
  for (size_t i = 0; i < missing.size(); ++i) {
    std::string tmp = binding_dir + "/api-download-" + std::to_string(i) + ".tmp";
    const RemoteEntry& e = *missing[i];
    if (stored.ok()) {
      git_oid written;
      int rc = git_blob_create_from_disk(&written, repo, tmp.c_str());
      size_t len = 0;
      git_object_t type;
      if (rc < 0) {
        stored = GitError(rc, "store downloaded file " + e.path);
      } else if (e.blob_id.empty()) {
        // No id to check against: at least the size the listing gave must match.
        if (e.size_known && (git_odb_read_header(&len, &type, odb.get(), &written) != 0 || len != e.size)) {
          stored = Status::Corrupted("downloaded content of " + e.path + " has " + std::to_string(len) +
                                     " bytes, the listing said " + std::to_string(e.size) + "; nothing applied");
        } else {
          files[e.path].oid = written;
          ++result.downloaded;
        }
      } else if (OidHex(written) != e.blob_id) {
        stored = Status::Corrupted("downloaded content of " + e.path + " does not match its blob id " + e.blob_id +
                                   " (got " + OidHex(written) + "); nothing applied");
      } else {
        ++result.downloaded;
      }
    }
    ::unlink(tmp.c_str());
  }
  if (!stored.ok()) return stored;
  auto tree_id = ReplaceSubtree(repo, nullptr, path, files);
  if (!tree_id.ok()) return tree_id.status();
  git_tree* tree_raw = nullptr;
  if (int rc = git_tree_lookup(&tree_raw, repo, &*tree_id); rc < 0) return GitError(rc, "read snapshot tree");
  std::unique_ptr<git_tree, decltype(&git_tree_free)> tree(tree_raw, git_tree_free);
  git_signature* sig_raw = nullptr;
  if (int rc = git_signature_now(&sig_raw, "gitsyncd", "gitsyncd@localhost"); rc < 0) return GitError(rc, "signature");
  std::unique_ptr<git_signature, decltype(&git_signature_free)> sig(sig_raw, git_signature_free);
  // The previous snapshot is the parent, so the binding's history stays connected and the
  // last synced snapshot is always an ancestor for merges.
  std::vector<git_commit*> parents;
  std::unique_ptr<git_commit, decltype(&git_commit_free)> parent(nullptr, git_commit_free);
  if (auto prev = Oid(state.snapshot); prev && git_odb_exists(odb.get(), &*prev)) {
    git_commit* p = nullptr;
    if (git_commit_lookup(&p, repo, &*prev) == 0) {
      parent.reset(p);
      parents.push_back(p);
    }
  }
  std::string message = "API snapshot of " + branch + (path.empty() ? "" : ":" + path) + " at " + *head + "\n";
  git_oid commit;
  int rc = git_commit_create(&commit, repo, nullptr, sig.get(), sig.get(), nullptr, message.c_str(), tree.get(),
                             parents.size(), const_cast<const git_commit**>(parents.data()));
  if (rc < 0) return GitError(rc, "record API snapshot");
  state.SetHead(OidHex(commit), *head);
  if (Status s = SaveApiState(binding_dir, state); !s.ok()) return s;
  result.snapshot = commit;
  return result;
}

}  // namespace gitsyncd
