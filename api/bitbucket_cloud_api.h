// Bitbucket Cloud's REST API 2.0, following https://developer.atlassian.com/cloud/bitbucket/rest/
// ({base} is api.url, default https://api.bitbucket.org; repositories are {workspace}/{repo}):
//   GET  /2.0/repositories/{workspace}?pagelen=100 -> {"values": [{"slug", "full_name", "mainbranch": {"name"}}], "next"}
//   GET  /2.0/repositories/{ws}/{repo}                                  (the repository: access check)
//   GET  /2.0/repositories/{ws}/{repo}/refs/branches/{name}             -> {"target": {"hash"}}
//   GET  /2.0/repositories/{ws}/{repo}/src/{commit}/{path}/?max_depth=&pagelen=
//        -> {"values": [{"type": commit_file|commit_directory, "path", "size", "attributes": [executable|link|
//        subrepository|...]}], "next"}; the same URL on a file answers its raw bytes
//   GET  /2.0/repositories/{ws}/{repo}/diffstat/{new}..{old}?merge=false -> {"values": [{"status", "old": {"path"},
//        "new": {"path"}}], "next"}  (note the order: the commit with the changes first)
//   POST /2.0/repositories/{ws}/{repo}/src  multipart: message, author ("Name <email>"), parents, branch, one
//        field per written file (Content-Disposition `x-attributes:"executable"` for executables, the form the
//        docs show), `files` per deleted file
//        -> 201, Location: .../commit/{hash}; 409 when `parents` is not the branch's head (it moved)
//   POST /2.0/repositories/{ws}/{repo}/refs/branches {"name", "target": {"hash"}}  (a new branch at a commit)
// Auth: Bearer (repository, workspace or OAuth access token).
// Listings carry no Git blob ids: the reader says so (ListsBlobIds() is false) and offers the
// diffstat between two commits instead, so a fetch downloads only the files that changed.
#pragma once

#include "api/provider_api.h"
#include "api/repo_hooks.h"

namespace gitsyncd {

// Hooks and statuses (bitbucket_cloud_hooks.cpp), https://developer.atlassian.com/cloud/bitbucket/rest/
// api-group-repositories/#api-repositories-workspace-repo-slug-hooks-get and api-group-commit-statuses:
//   GET    /2.0/repositories/{ws}/{repo}/hooks?pagelen=100 -> {"values": [{"uuid", "url", "description", "active",
//          "events": ["repo:push"], "secret_set", "skip_cert_verification"}], "next"}
//   POST   .../hooks {"description", "url", "active", "events", "secret"} -> 201;  PUT .../hooks/{uid} -> 200
//   DELETE .../hooks/{uid} -> 204
//   POST   .../commit/{sha}/statuses/build {"key", "state": SUCCESSFUL|FAILED, "name", "url", "description"} -> 201
//          (a second status with the same key replaces the first)
class BitbucketCloudApi : public ProviderApi, public RepoHooks {
 public:
  explicit BitbucketCloudApi(ApiTarget target);
  // The ProviderApi and RepoHooks overrides. Every provider client declares this same list
  // (C++ wants each override declared in its class); what differs lives in the .cpp files.
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return target_.api_base; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  Result<std::vector<std::string>> ChangedFiles(const std::string& from, const std::string& to) override;
  bool ListsBlobIds() const override { return false; }
  Result<std::string> Commit(const CommitRequest& request) override;
  Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account) override;

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
  // GET {base}{path} (or a full `url` from a "next" link, which must stay in {base}).
  Result<HttpsResponse> Call(const std::string& url, const std::string& what, const std::string& download_to = "",
                             uint64_t max = 0);
  Status ListDirectory(const std::string& commit, const std::string& folder, const std::string& dir,
                       std::vector<RemoteEntry>* out, int depth);
  ApiTarget target_;
  HttpsClient client_;
  std::string repo_url_;  // {base}/2.0/repositories/{ws}/{repo}
};

}  // namespace gitsyncd
