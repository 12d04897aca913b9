// Azure Repos (Azure DevOps Services, or Server), REST API 7.1 (or the server's latest, or
// api.version), following
// https://learn.microsoft.com/en-us/rest/api/azure/devops/git/ :
//   GET {base}/_apis/git/repositories/{repo}?api-version=7.1                     (Repositories - Get)
//   GET {base}/_apis/git/repositories/{repo}/refs?filter=heads/{branch}&...      (Refs - List) -> {"value": [{"name", "objectId"}]}
//   GET {base}/_apis/git/repositories/{repo}/items?scopePath=/{path}&recursionLevel=Full
//       &versionDescriptor.version={commit}&versionDescriptor.versionType=commit  (Items - List)
//       -> {"value": [{"objectId", "gitObjectType": blob|tree|commit, "path": "/...", "isFolder", "isSymLink"}]}
//   GET {base}/_apis/git/repositories/{repo}/blobs/{objectId}?$format=octetstream (Blobs - Get Blob) -> raw bytes
//   POST {base}/_apis/git/repositories/{repo}/pushes?api-version=7.1                  (Pushes - Create)
//       {"refUpdates": [{"name", "oldObjectId"}], "commits": [{"comment", "author": {"name", "email"},
//       "changes": [{"changeType": add|edit|delete, "item": {"path"}, "newContent": {"content", "contentType"}}]}]}
//       -> 201 {"commits": [{"commitId"}], "refUpdates": [{"name", "newObjectId"}]}; 409 TF401028 = the branch moved.
//       A branch that does not exist yet is created on oldObjectId.
//   POST {base}/_apis/git/repositories/{repo}/refs?api-version=7.1                   (Refs - Update Refs)
//       [{"name", "oldObjectId": "0000...", "newObjectId"}] -> {"value": [{"success", "updateStatus"}]}
// {base} is api.url, else derived from the remote URL (AzureApiBase); auth is basic with the PAT as
// password. Azure reports neither file modes (no executable bit) nor PAT scopes, and its
// pushes API cannot set them: new files are written 100644, a mode-only change is not written.
#pragma once

#include <functional>
#include <optional>

#include "api/provider_api.h"
#include "api/repo_hooks.h"

namespace gitsyncd {

// The API base (https://dev.azure.com/{org}/{project}, https://{org}.visualstudio.com/{project},
// https://server/tfs/{collection}/{project}) of an Azure Repos remote or account URL, HTTPS or
// SSH; "" when it cannot be told (Azure DevOps Server over SSH: set api.url).
std::string AzureApiBase(const std::string& remote_url);

// Service hooks and statuses (azure_hooks.cpp), https://learn.microsoft.com/en-us/rest/api/azure/devops/hooks/
// subscriptions and .../git/statuses (subscriptions live in the organization, {org} = {base} minus the project):
//   GET    {base}/_apis/git/repositories/{repo} -> {"id", "project": {"id"}}  (the ids a subscription names)
//   GET    {org}/_apis/hooks/subscriptions?publisherId=tfs&eventType=git.push&consumerId=webHooks
//          &consumerActionId=httpRequest -> {"count", "value": [{"id", "status", "publisherInputs": {"projectId",
//          "repository"}, "consumerInputs": {"url", "basicAuthUsername", "resourceDetailsToSend", ...}}]}
//   POST   {org}/_apis/hooks/subscriptions {"publisherId": "tfs", "eventType": "git.push", "resourceVersion": "1.0",
//          "consumerId": "webHooks", "consumerActionId": "httpRequest", "publisherInputs", "consumerInputs": {"url",
//          "basicAuthUsername", "basicAuthPassword", "resourceDetailsToSend": "all"}} -> 200
//   PUT    {org}/_apis/hooks/subscriptions/{id} (the same) -> 200;  DELETE {org}/_apis/hooks/subscriptions/{id} -> 204
//   POST   {base}/_apis/git/repositories/{repo}/commits/{sha}/statuses {"state": succeeded|failed, "description",
//          "targetUrl", "context": {"genre", "name"}} -> 201
class AzureApi : public ProviderApi, public RepoHooks {
 public:
  explicit AzureApi(ApiTarget target);
  // The ProviderApi and RepoHooks overrides. Every provider client declares this same list
  // (C++ wants each override declared in its class); what differs lives in the .cpp files.
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return base_; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  // GET {org}/{project}/_apis/git/repositories (one answer, no paging).
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
  std::optional<RemoteHook> ParseSubscription(const boost::json::value& subscription) const;
  // A hook or status request to {url}?{query}&api-version=; `body` JSON (empty: none).
  Result<HttpsResponse> Admin(const std::string& method, const std::string& url, const std::string& query,
                              const std::string& body, const std::string& what, const std::string& needs);
  Status LoadIds();  // repo_id_, project_id_
  std::string SubscriptionBody(const WantedHook& hook) const;
  std::string repo_id_, project_id_;
  Result<HttpsResponse> Call(const std::string& path, const std::string& query, const std::string& what,
                             const std::string& download_to = "", uint64_t max = 0);
  Result<HttpsResponse> Write(const std::string& path, const std::string& body, const std::string& what);
  // `send(api_version)`, again with the server's latest version when it refuses ours.
  Result<HttpsResponse> Versioned(const std::function<Result<HttpsResponse>(const std::string&)>& send);
  ApiTarget target_;
  HttpsClient client_;
  std::string base_;  // https://dev.azure.com/{org}/{project}
  std::string repo_;  // repository name
  std::string auth_;  // "Basic ..."
  std::string version_;  // api-version sent
};

}  // namespace gitsyncd
