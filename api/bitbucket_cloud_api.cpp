#include "api/bitbucket_cloud_api.h"

#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/gitlab_api.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using api_answer::Member;
using api_answer::Str;

Status NotYet() {
  return Status::InvalidArgument("fetch: api is not implemented for provider bitbucket-cloud yet; use fetch: git");
}

}  // namespace

BitbucketCloudApi::BitbucketCloudApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  while (!target_.api_base.empty() && target_.api_base.back() == '/') target_.api_base.pop_back();
  if (target_.api_base.empty()) target_.api_base = "https://api.bitbucket.org";
}

Result<ApiAccess> BitbucketCloudApi::CheckAccess() {
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  auto res = api_answer::Checked(ApiGet(client_, target_, target_.api_base + "/2.0/repositories/" + target_.repo, headers),
                                 "repository " + target_.repo, target_.api_base, target_.repo, "repository read");
  if (!res.ok()) return res.status();
  return ApiAccess{};
}

Result<std::string> BitbucketCloudApi::BranchHead(const std::string&) { return NotYet(); }
Result<std::vector<RemoteEntry>> BitbucketCloudApi::ListFolder(const std::string&, const std::string&) { return NotYet(); }
Status BitbucketCloudApi::Download(const RemoteEntry&, const std::string&) { return NotYet(); }

Result<std::vector<RemoteRepo>> BitbucketCloudApi::ListRepositories(const std::string& account) {
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  std::string url = target_.api_base + "/2.0/repositories/" + UrlEncodeComponent(account) + "?pagelen=100";
  std::vector<RemoteRepo> out;
  for (int pages = 0; !url.empty(); ++pages) {
    if (pages > 10000) return Status::Corrupted("repository list of " + account + " never ends");
    auto res = api_answer::Checked(ApiGet(client_, target_, url, headers), "repositories of workspace " + account,
                                   target_.api_base, account, "repository read");
    if (!res.ok()) return res.status();
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    const json::value* values = ec ? nullptr : Member(v, "values");
    if (!values || !values->is_array()) return Status::Corrupted("repositories of " + account + ": no 'values' list");
    for (const json::value& r : values->as_array()) {
      RemoteRepo repo;
      repo.name = Str(Member(r, "slug"));
      repo.full_name = Str(Member(r, "full_name"));
      repo.default_branch = Str(Member(Member(r, "mainbranch"), "name"));
      if (!repo.name.empty()) out.push_back(std::move(repo));
    }
    url = Str(Member(v, "next"));
    // The token goes along: follow only links into the same API.
    if (!url.empty() && url.rfind(target_.api_base + "/", 0) != 0) {
      return Status::Corrupted("repositories of " + account + ": next page link leaves " + target_.api_base);
    }
  }
  return out;
}

}  // namespace gitsyncd
