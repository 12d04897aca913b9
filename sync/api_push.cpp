#include "sync/api_push.h"

#include <spdlog/spdlog.h>

#include "sync/api_state.h"
#include "sync/folder_tree.h"
#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

constexpr const char* kHeads = "refs/heads/";

std::optional<git_oid> ParseHex(const std::string& hex) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) != 0) return std::nullopt;
  return oid;
}

// The folder's file changes from commit `from` to commit `to`, with the new contents.
Result<std::vector<FileChange>> FolderChanges(git_repository* repo, const git_oid& from, const git_oid& to,
                                              const std::string& path) {
  auto before = SubtreeOfCommit(repo, &from, path);
  if (!before.ok()) return before.status();
  auto after = SubtreeOfCommit(repo, &to, path);
  if (!after.ok()) return after.status();
  std::string prefix = path.empty() ? "" : path + "/";
  std::vector<FileChange> out;
  for (const auto& [p, e] : *after) {
    if (!IsManaged(e)) continue;  // symlinks and submodules are never written
    auto old = before->find(p);
    bool existed = old != before->end() && IsManaged(old->second);
    if (existed && old->second == e) continue;
    FileChange c;
    c.kind = existed ? FileChange::Kind::kModify : FileChange::Kind::kAdd;
    c.path = prefix + p;
    c.executable = e.mode == GIT_FILEMODE_BLOB_EXECUTABLE;
    c.executable_before = existed && old->second.mode == GIT_FILEMODE_BLOB_EXECUTABLE;
    if (existed) c.blob_id_before = OidHex(old->second.oid);
    c.blob_id = OidHex(e.oid);
    git_blob* raw = nullptr;
    if (int rc = git_blob_lookup(&raw, repo, &e.oid); rc < 0) return GitError(rc, "read " + c.path);
    BlobPtr blob(raw);
    c.content.assign(static_cast<const char*>(git_blob_rawcontent(raw)), static_cast<size_t>(git_blob_rawsize(raw)));
    out.push_back(std::move(c));
  }
  for (const auto& [p, e] : *before) {
    if (!IsManaged(e)) continue;
    auto now = after->find(p);
    if (now != after->end() && IsManaged(now->second)) continue;
    FileChange c;
    c.kind = FileChange::Kind::kDelete;
    c.path = prefix + p;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

Status PushViaApi(git_repository* repo, const ApiPushTarget& target, const std::vector<RefUpdate>& updates) {
  std::string provider(ProviderName(target.api.provider));
  auto made = MakeProviderApi(target.api);
  if (!made.ok()) return made.status();
  ProviderApi& api = **made;
  ApiState state = LoadApiState(target.binding_dir);
  for (const RefUpdate& u : updates) {
    if (u.remote_ref.rfind(kHeads, 0) != 0) return Status::Internal("cannot write " + u.remote_ref + " through the API");
    std::string name = u.remote_ref.substr(std::string(kHeads).size());
    bool synced_branch = name == target.branch;
    std::string local = OidHex(u.commit);
    std::string what = "write back to branch " + name + " of " + target.api.repo + " through the " + provider + " API";

    CommitRequest req;
    req.branch = name;
    req.new_branch = !synced_branch;
    req.author_name = target.author.name;
    req.author_email = target.author.email;
    if (std::string remote = state.RemoteOf(local); !remote.empty()) {
      // Already on the remote (a fetched snapshot, or written before): a new branch points at
      // it; the synced branch needs nothing if it is still there.
      if (synced_branch) {
        if (state.remote_commit == remote) continue;
        return Status::Conflict(what + ": the branch moved since it was read");
      }
      req.parent = remote;
    } else {
      git_commit* raw = nullptr;
      if (int rc = git_commit_lookup(&raw, repo, &u.commit); rc < 0) return GitError(rc, what + ": read " + local);
      CommitPtr commit(raw);
      if (git_commit_parentcount(raw) == 0) {
        return Status::InvalidArgument(what + ": branch " + target.branch +
                                       " has no commit yet; fetch: api writes only on top of an existing branch");
      }
      git_oid base = *git_commit_parent_id(raw, 0);
      req.parent = state.RemoteOf(OidHex(base));
      if (req.parent.empty()) {
        // Based on a commit the API never named (its record was lost): the synced branch is
        // fetched again and merged; a conflict branch starts at the head we know, with the
        // folder of this commit, so its content is the same.
        auto head = ParseHex(state.snapshot);
        if (synced_branch || !head || state.remote_commit.empty()) {
          return Status::Conflict(what + ": the commit it builds on is not known on the remote; fetching again");
        }
        base = *head;
        req.parent = state.remote_commit;
      }
      auto changes = FolderChanges(repo, base, u.commit, target.path);
      if (!changes.ok()) return Status(changes.status()).WithContext(what);
      req.changes = std::move(*changes);
      req.message = git_commit_message(raw);
      if (req.changes.empty() && synced_branch) {
        // Nothing the folder's files differ in: the commit stands for the remote commit as is.
        if (state.remote_commit != req.parent) return Status::Conflict(what + ": the branch moved since it was read");
        state.SetHead(local, req.parent);
        if (Status s = SaveApiState(target.binding_dir, state); !s.ok()) return s;
        continue;
      }
    }
    auto written = api.Commit(req);
    if (!written.ok()) return Status(written.status()).WithContext(what);
    spdlog::info("{}: {} ({} file(s)) is now {}", what, local.substr(0, 8), req.changes.size(), *written);
    if (synced_branch) {
      state.SetHead(local, *written);
    } else {
      state.Remember(local, *written);
    }
    if (Status s = SaveApiState(target.binding_dir, state); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace gitsyncd
