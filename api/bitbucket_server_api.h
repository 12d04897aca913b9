// Bitbucket Server / Data Center REST API 1.0, following
// https://developer.atlassian.com/server/bitbucket/rest/ :
//   GET {base}/rest/api/1.0/projects/{key}/repos/{slug}                          (repository)
//   GET .../branches?filterText={branch}&limit=100 -> {"values": [{"id", "latestCommit"}], "isLastPage", "nextPageStart"}
//   GET .../browse/{path}?at={commit}&start=&limit= -> {"children": {"values": [{"path": {"toString"}, "contentId",
//       "type": FILE|DIRECTORY|SUBMODULE, "size"}], "isLastPage", "nextPageStart"}}   (one directory per request)
//   GET .../raw/{path}?at={commit} -> raw bytes
//   PUT  .../browse/{path} multipart {content, message, branch, sourceCommitId (omitted for a new file)}
//        -> {"id", "parents": [{"id"}]}: one commit per file; 409 = the file changed since sourceCommitId
//        (or exists already)
//   POST .../branches {"name", "startPoint"} (a new branch at a commit)
// {base} is api.url (required: the server's base URL); auth with an HTTP access token (Bearer).
// Limits of writing back: the REST API cannot delete a file (a local deletion fails the write
// with an error naming the files, nothing written), cannot set the executable bit, and records
// the token's user as the author (commit_author is not used). Its check is per file, so a
// commit landing on a branch moved by others (in other files) is recognized by its parent and
// reported as a Conflict: the pass fetches the result and merges.
#pragma once

#include "api/provider_api.h"
#include "api/repo_hooks.h"

namespace gitsyncd {

// Hooks and statuses (bitbucket_server_hooks.cpp), https://developer.atlassian.com/server/bitbucket/rest/
// (Repository: webhooks) and .../how-tos/updating-build-status-for-commits:
//   GET    {repo}/webhooks?start=&limit=100 -> {"values": [{"id", "name", "events", "configuration", "url", "active"}],
//          "isLastPage", "nextPageStart"}
//   POST   {repo}/webhooks {"name", "events": ["repo:refs_changed"], "configuration": {"secret"}, "url", "active"}
//          -> 201;  PUT {repo}/webhooks/{id} -> 200;  DELETE {repo}/webhooks/{id} -> 204
//   POST   {repo}/commits/{sha}/builds {"key", "state": SUCCESSFUL|FAILED, "url", "name", "description"} -> 204
// ({repo} = {base}/rest/api/1.0/projects/{key}/repos/{slug})
class BitbucketServerApi : public ProviderApi, public RepoHooks {
 public:
  explicit BitbucketServerApi(ApiTarget target);
  // The ProviderApi and RepoHooks overrides. Every provider client declares this same list
  // (C++ wants each override declared in its class); what differs lives in the .cpp files.
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return target_.api_base; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  // GET /rest/api/1.0/projects/{key}/repos?start=&limit= (paged by nextPageStart).
  Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account) override;
  Result<std::string> Commit(const CommitRequest& request) override;

 Result<std::vector<RemoteHook>> ListHooks() override;
  Status CreateHook(const WantedHook& hook) override;
  Status UpdateHook(const std::string& id, const WantedHook& hook) override;
  Status DeleteHook(const std::string& id) override;
  Status PostCommitStatus(const CommitStatusReport& report) override;
  std::string RepoName() const override { return target_.repo; }

 private:
  // This repository's hooks, for the requests written once in repo_hooks.
  HookCollection Hooks();
  // A hook or status request to {url}; `body` JSON (empty: none).
  Result<HttpsResponse> Admin(const std::string& method, const std::string& url, const std::string& body,
                              const std::string& what, const std::string& needs);
  Result<HttpsResponse> Call(const std::string& path, const std::string& what, const std::string& download_to = "",
                             uint64_t max = 0);
  Result<HttpsResponse> Write(const std::string& method, const std::string& path, const std::string& content_type,
                              const std::string& body, const std::string& what);
  Status ListDirectory(const std::string& commit, const std::string& folder, const std::string& rel,
                       std::vector<RemoteEntry>* out, int depth);
  ApiTarget target_;
  HttpsClient client_;
  std::string repo_base_;  // {base}/rest/api/1.0/projects/{key}/repos/{slug}
  Status setup_;
};

}  // namespace gitsyncd
