// GitHub's REST API (and GitHub Enterprise's, via api.url), following
// https://docs.github.com/en/rest/git (API version 2022-11-28):
//   GET /repos/{owner}/{repo}/git/ref/heads/{branch}      -> {"object": {"sha"}}
//   GET /repos/{owner}/{repo}/git/trees/{sha}[?recursive=1] -> {"tree": [{path, mode, type, sha, size}], "truncated"}
//   GET /repos/{owner}/{repo}/git/blobs/{sha} with Accept: application/vnd.github.raw+json -> raw bytes
// The folder's tree id comes from walking the trees from the commit down its path, one level
// at a time (the contents API would list at most 1,000 entries of a directory), then the
// folder is listed recursively; a truncated recursive listing falls back to listing each
// subtree on its own.
// Writing back (https://docs.github.com/en/rest/git), each step its own request:
//   POST  /repos/{owner}/{repo}/git/blobs   {"content" (base64), "encoding"}  -> {"sha"}, checked against ours
//         (only files that are not UTF-8 text or larger than 1 MB)
//   GET   /repos/{owner}/{repo}/git/commits/{parent}                          -> {"tree": {"sha"}}
//   POST  /repos/{owner}/{repo}/git/trees   {"base_tree", "tree": [{path, mode, type, sha|null|content}]} -> {"sha"}
//         (text files inline as "content", up to 8 MB a request; the stored blob ids are then
//         read back from the new tree and checked against ours)
//   POST  /repos/{owner}/{repo}/git/commits {"message", "tree", "parents", "author": {name, email}} -> {"sha"}
//   PATCH /repos/{owner}/{repo}/git/refs/heads/{branch} {"sha", "force": false}; 422 "not a fast forward" = moved
//   POST  /repos/{owner}/{repo}/git/refs    {"ref", "sha"}                    (a new branch)
#pragma once

#include <functional>
#include <map>

#include "api/provider_api.h"
#include "api/repo_hooks.h"

namespace gitsyncd {

// Hooks and statuses (github_hooks.cpp), https://docs.github.com/en/rest/repos/webhooks,
// .../webhooks/repo-deliveries and .../commits/statuses:
//   GET    /repos/{o}/{r}/hooks?per_page=100&page=N -> [{"id", "name": "web", "active", "events", "config": {"url",
//          "content_type", "insecure_ssl"}}]
//   POST   /repos/{o}/{r}/hooks {"name": "web", "active", "events": ["push"], "config": {...,"secret"}} -> 201
//   PATCH  /repos/{o}/{r}/hooks/{id} (same fields) -> 200;  DELETE /repos/{o}/{r}/hooks/{id} -> 204
//   GET    /repos/{o}/{r}/hooks/{id}/deliveries?per_page=1 -> [{"delivered_at", "status", "status_code", ...}]
//   POST   /repos/{o}/{r}/statuses/{sha} {"state": success|failure, "target_url", "description", "context"} -> 201
class GitHubApi : public ProviderApi, public RepoHooks {
 public:
  explicit GitHubApi(ApiTarget target);
  // The ProviderApi and RepoHooks overrides. Every provider client declares this same list
  // (C++ wants each override declared in its class); what differs lives in the .cpp files.
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return target_.api_base; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  // GET /orgs/{org}/repos (users: /users/{user}/repos), 100 per page, following Link rel="next".
  Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account) override;
  Result<std::string> Commit(const CommitRequest& request) override;

 Result<std::vector<RemoteHook>> ListHooks() override;
  Status CreateHook(const WantedHook& hook) override;
  Status UpdateHook(const std::string& id, const WantedHook& hook) override;
  Status DeleteHook(const std::string& id) override;
  Result<HookDelivery> LastDelivery(const std::string& id) override;
  Status PostCommitStatus(const CommitStatusReport& report) override;
  std::string RepoName() const override { return target_.repo; }

 private:
  // This repository's hooks, for the requests written once in repo_hooks.
  HookCollection Hooks();
  HeaderList Headers(bool raw) const;
  std::string RepoUrl() const;  // {api}/repos/{owner}/{repo}
  // A write with a JSON body; `moved` recognizes the answers meaning the branch moved.
  Result<HttpsResponse> Write(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& what, const std::function<bool(int, const std::string&)>& moved = {});
  Result<HttpsResponse> Call(const std::string& path, const std::string& what, bool raw = false,
                             const std::string& download_to = "", uint64_t max = 0);
  struct TreeEntry {
    std::string type, sha;
  };
  // One tree's entries by name (GET /git/trees/{sha}, not recursive).
  Result<std::map<std::string, TreeEntry>> ReadLevel(const std::string& tree_sha, const std::string& what);
  Result<std::string> SubtreeSha(const std::string& root, const std::string& path);
  Status CheckStoredBlobs(const std::string& tree, const std::map<std::string, std::string>& expected);
  // The steps of Commit: a blob for a file that cannot travel inline (its sha checked), the
  // trees and the commit on top of the parent, then the branch moved to it.
  struct TreeBatches;
  Result<std::string> CreateBlob(const FileChange& change);
  Result<std::string> CommitTrees(const CommitRequest& request, TreeBatches& trees);
  Result<std::string> MoveBranch(const CommitRequest& request, const std::string& head);
  Status ListTree(const std::string& tree_sha, const std::string& prefix, bool recursive,
                  std::vector<RemoteEntry>* out, int depth);

  ApiTarget target_;
  HttpsClient client_;
};

}  // namespace gitsyncd
