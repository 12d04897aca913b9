#include "api/repo_hooks.h"

#include <boost/json.hpp>

#include "api/azure_api.h"
#include "api/bitbucket_cloud_api.h"
#include "api/bitbucket_server_api.h"
#include "api/github_api.h"
#include "api/gitlab_api.h"

namespace gitsyncd {

std::string BitbucketBuildStatusJson(const CommitStatusReport& r, const std::string& url) {
  boost::json::object o{{"key", r.context},
                        {"state", r.state == CommitState::kSuccess ? "SUCCESSFUL" : "FAILED"},
                        {"name", r.context},
                        {"url", url},
                        {"description", r.description}};
  return boost::json::serialize(o);
}

Result<HookDelivery> RepoHooks::LastDelivery(const std::string&) { return HookDelivery{}; }

Result<HttpsResponse> CheckedAdmin(Provider provider, Result<HttpsResponse> res, const std::string& what,
                                   const std::string& base, const std::string& needs) {
  if (!res.ok()) return Status(res.status()).WithContext(what);
  int st = res->status;
  if (st >= 200 && st < 300) return res;
  std::string said = res->body.substr(0, 300);
  std::string code = "HTTP " + std::to_string(st);
  // Azure answers a PAT it does not know with a sign-in page (203), and one that lacks the
  // scope with 401; Bitbucket Server a token without the permission with 401 AuthorisationException.
  bool scope_401 = provider == Provider::kAzureRepos || said.find("AuthorisationException") != std::string::npos;
  if (st == 203 || (st == 401 && !scope_401)) {
    return Status::PermissionDenied(what + ": the API token was refused (" + code + ") by " + base);
  }
  if (st == 401 || st == 403 || st == 404) {
    return Status::PermissionDenied(what + ": the API token may not do this (" + code + "); it needs " + needs +
                                    (said.empty() ? "" : " (the provider said: " + said + ")"));
  }
  if (st >= 500) return Status::Unavailable(what + ": " + code + " from " + base + ": " + said);
  return Status::InvalidArgument(what + ": refused by " + base + " (" + code + "): " + said);
}

Result<HttpsResponse> AdminRequest(HttpsClient& client, const ApiTarget& target, const std::string& method,
                                   const std::string& url, HeaderList headers, const std::string& body,
                                   const std::string& what, const std::string& needs) {
  if (method == "GET") {
    return CheckedAdmin(target.provider, ApiGet(client, target, url, headers), what, target.api_base, needs);
  }
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return CheckedAdmin(target.provider, ApiSend(client, target, method, url, headers, body), what, target.api_base,
                      needs);
}

Result<std::unique_ptr<RepoHooks>> MakeRepoHooks(const ApiTarget& target) {
  if (target.token.empty()) return Status::InvalidArgument("managing webhooks and commit statuses needs api.token");
  switch (target.provider) {
    case Provider::kGitHub:
      return std::unique_ptr<RepoHooks>(new GitHubApi(target));
    case Provider::kGitLab:
      return std::unique_ptr<RepoHooks>(new GitLabApi(target));
    case Provider::kAzureRepos:
      return std::unique_ptr<RepoHooks>(new AzureApi(target));
    case Provider::kBitbucketServer:
      return std::unique_ptr<RepoHooks>(new BitbucketServerApi(target));
    case Provider::kBitbucketCloud:
      return std::unique_ptr<RepoHooks>(new BitbucketCloudApi(target));
    case Provider::kGit:
      break;
  }
  return Status::InvalidArgument("provider 'git' has no API for webhooks or commit statuses");
}

}  // namespace gitsyncd
