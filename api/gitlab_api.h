// GitLab's REST API v4 (gitlab.com or self-managed via api.url), following
// https://docs.gitlab.com/ee/api/ :
//   GET /projects/:id                                   (projects.html#get-a-single-project)
//   GET /personal_access_tokens/self                    -> {"scopes": [...]}  (token scopes)
//   GET /projects/:id/repository/branches/:branch       -> {"commit": {"id"}}
//   GET /projects/:id/repository/tree?ref=&path=&recursive=true&per_page=100&page=N
//       -> [{"id", "name", "type": blob|tree|commit, "path", "mode"}], paginated by X-Next-Page
//   GET /projects/:id/repository/files/:file_path/raw?ref=  -> the raw bytes
// :id is the URL-encoded "group/project" path; auth with the PRIVATE-TOKEN header.
// Writing back (commits.html#create-a-commit-with-multiple-files-and-actions, branches.html):
//   POST /projects/:id/repository/commits {"branch", "commit_message", "author_name", "author_email",
//       "start_sha" (new branch only), "actions": [{"action": create|update|delete|chmod, "file_path",
//       "content", "encoding": "base64", "last_commit_id", "execute_filemode"}]} -> {"id", "parent_ids"}
//   GET /projects/:id/repository/commits?ref_name={parent}&path={file}&per_page=1  (each updated or
//       deleted file's last commit as of the parent, sent as its last_commit_id)
//   POST /projects/:id/repository/branches?branch=&ref=   (a new branch at a commit)
// GitLab has no compare-and-swap on the branch: `start_sha` on an existing branch is refused,
// and `last_commit_id` makes it refuse each updated or deleted file changed since
// (400 "The file has changed since you started editing it"). A commit that still lands on a
// branch moved by others (in other files) is recognized by its parent_ids and reported as a
// Conflict, so the pass fetches the result and merges; nothing is overwritten either way.
#pragma once

#include "api/provider_api.h"
#include "api/repo_hooks.h"

namespace gitsyncd {

// Hooks and statuses (gitlab_hooks.cpp), https://docs.gitlab.com/ee/api/project_webhooks.html and
// https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit:
//   GET    /projects/:id/hooks?per_page=100&page=N -> [{"id", "url", "push_events", "tag_push_events",
//          "merge_requests_events", ..., "enable_ssl_verification"}]
//   POST   /projects/:id/hooks {"url", "token", "push_events": true, other events false,
//          "enable_ssl_verification": true} -> 201;  PUT /projects/:id/hooks/:hook_id -> 200
//   DELETE /projects/:id/hooks/:hook_id -> 204
//   POST   /projects/:id/statuses/:sha {"state": success|failed, "name", "target_url", "description"} -> 201
class GitLabApi : public ProviderApi, public RepoHooks {
 public:
  explicit GitLabApi(ApiTarget target);
  // The ProviderApi and RepoHooks overrides. Every provider client declares this same list
  // (C++ wants each override declared in its class); what differs lives in the .cpp files.
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return target_.api_base; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  // GET /groups/:id/projects?include_subgroups=true, 100 per page, following X-Next-Page.
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
  Result<std::string> LastCommitFor(const std::string& commit, const std::string& path);
  Result<HttpsResponse> Call(const std::string& path, const std::string& what, const std::string& download_to = "",
                             uint64_t max = 0);
  Result<ApiAccess> CheckScopes(const std::string& what);  // read_api + read_repository (or api)
  ApiTarget target_;
  HttpsClient client_;
  std::string project_;  // URL-encoded project path
};

}  // namespace gitsyncd
