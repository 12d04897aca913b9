// Bitbucket Server / Data Center repository webhooks and build statuses (see bitbucket_server_api.h).
#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/bitbucket_server_api.h"
#include "config/provider.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// Managing webhooks takes repository admin; posting a build status, repository read
// (https://developer.atlassian.com/server/bitbucket/how-tos/updating-build-status-for-commits).
constexpr const char* kHookRight = "Repository admin (REPO_ADMIN, or Project admin for a project token)";
constexpr const char* kStatusRight = "Repository read (REPO_READ)";

std::string HookBody(const WantedHook& hook) {
  return json::serialize(json::object{{"name", "gitsyncd"},
                                      {"events", json::array{"repo:refs_changed"}},
                                      {"configuration", json::object{{"secret", hook.secret}}},
                                      {"url", hook.url},
                                      {"active", true}});
}

RemoteHook ParseHook(const json::value& v) {
  RemoteHook h;
  if (const json::value* id = Member(v, "id"); id && id->is_int64()) h.id = std::to_string(id->as_int64());
  h.url = Str(Member(v, "url"));
  std::string events = api_answer::StrList(Member(v, "events"));
  if (!api_answer::True(Member(v, "active"))) h.drift = "inactive";
  else if (events != "repo:refs_changed") h.drift = "events: " + events;
  h.as_wanted = h.drift.empty();
  return h;
}

}  // namespace

Result<HttpsResponse> BitbucketServerApi::Admin(const std::string& method, const std::string& url,
                                                const std::string& body, const std::string& what,
                                                const std::string& needs) {
  if (!setup_.ok()) return setup_;
  return AdminRequest(client_, target_, method, url, {{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}}, body, what, needs);
}

HookCollection BitbucketServerApi::Hooks() {
  return {"Bitbucket Server", "webhook", target_.repo, repo_base_ + "/webhooks", "PUT",
          [this](const std::string& method, const std::string& url, const std::string& body, const std::string& what) {
            return Admin(method, url, body, what, kHookRight);
          }};
}

Result<std::vector<RemoteHook>> BitbucketServerApi::ListHooks() {
  HookCollection hooks = Hooks();
  long long start = 0;
  // Paged by start index until isLastPage (https://developer.atlassian.com/server/bitbucket/rest/ "Paged APIs");
  // a next start that does not move forward ends the list.
  return ListHooksIn(hooks, hooks.url + "?limit=100&start=0",
                     [&](const HttpsResponse&, const json::value& v, std::vector<RemoteHook>* out) -> Result<std::string> {
                       const json::value* values = Member(v, "values");
                       if (!values || !values->is_array()) return Status::Corrupted("the answer has no 'values' list");
                       for (const auto& h : values->as_array()) out->push_back(ParseHook(h));
                       const json::value* next = Member(v, "nextPageStart");
                       if (api_answer::True(Member(v, "isLastPage")) || !next || !next->is_int64() ||
                           next->as_int64() <= start) {
                         return std::string();
                       }
                       start = next->as_int64();
                       return hooks.url + "?limit=100&start=" + std::to_string(start);
                     });
}

Status BitbucketServerApi::CreateHook(const WantedHook& hook) { return CreateHookIn(Hooks(), HookBody(hook)); }

Status BitbucketServerApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  return UpdateHookIn(Hooks(), id, HookBody(hook));
}

Status BitbucketServerApi::DeleteHook(const std::string& id) { return DeleteHookIn(Hooks(), id); }

Status BitbucketServerApi::PostCommitStatus(const CommitStatusReport& r) {
  std::string url = !r.target_url.empty() ? r.target_url : CommitWebUrl(target_.provider, target_.remote_url, r.commit);
  return Admin("POST", repo_base_ + "/commits/" + UrlEncodeComponent(r.commit) + "/builds", BitbucketBuildStatusJson(r, url),
               "Bitbucket Server: the build status of " + r.commit.substr(0, 12) + " in " + target_.repo, kStatusRight)
      .status();
}

}  // namespace gitsyncd
