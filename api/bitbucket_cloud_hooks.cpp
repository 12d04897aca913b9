// Bitbucket Cloud's repository webhooks and commit build statuses (see bitbucket_cloud_api.h).
#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/bitbucket_cloud_api.h"
#include "config/provider.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// Access tokens and app passwords name these scopes ("Webhooks: Read and write" = webhook;
// https://support.atlassian.com/bitbucket-cloud/docs/repository-access-token-permissions/).
constexpr const char* kHookRight = "the 'webhook' scope (Webhooks: Read and write)";
constexpr const char* kStatusRight = "the 'repository:write' scope (Repositories: Write)";

std::string HookBody(const WantedHook& hook) {
  return json::serialize(json::object{{"description", "gitsyncd"},
                                      {"url", hook.url},
                                      {"active", true},
                                      {"skip_cert_verification", false},
                                      {"events", json::array{"repo:push"}},
                                      {"secret", hook.secret}});
}

RemoteHook ParseHook(const json::value& v) {
  RemoteHook h;
  h.id = Str(Member(v, "uuid"));
  h.url = Str(Member(v, "url"));
  std::string events = api_answer::StrList(Member(v, "events"));
  if (!api_answer::True(Member(v, "active"))) h.drift = "inactive";
  else if (events != "repo:push") h.drift = "events: " + events;
  else if (api_answer::True(Member(v, "skip_cert_verification"))) h.drift = "TLS verification off";
  else if (const json::value* s = Member(v, "secret_set"); s && s->is_bool() && !s->as_bool()) h.drift = "no secret";
  h.as_wanted = h.drift.empty();
  return h;
}

}  // namespace

Result<HttpsResponse> BitbucketCloudApi::Admin(const std::string& method, const std::string& url,
                                               const std::string& body, const std::string& what,
                                               const std::string& needs) {
  return AdminRequest(client_, target_, method, url, {{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}}, body, what, needs);
}

HookCollection BitbucketCloudApi::Hooks() {
  return {"Bitbucket Cloud", "webhook", target_.repo, repo_url_ + "/hooks", "PUT",
          [this](const std::string& method, const std::string& url, const std::string& body, const std::string& what) {
            return Admin(method, url, body, what, kHookRight);
          }};
}

Result<std::vector<RemoteHook>> BitbucketCloudApi::ListHooks() {
  HookCollection hooks = Hooks();
  // Each page links the next (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination);
  // the link is the server's word, so it must stay within the API.
  return ListHooksIn(hooks, hooks.url + "?pagelen=100",
                     [&](const HttpsResponse&, const json::value& v, std::vector<RemoteHook>* out) -> Result<std::string> {
                       const json::value* values = Member(v, "values");
                       if (!values || !values->is_array()) return Status::Corrupted("the answer has no 'values' list");
                       for (const auto& h : values->as_array()) out->push_back(ParseHook(h));
                       std::string next = Str(Member(v, "next"));
                       if (!next.empty() && next.rfind(target_.api_base + "/", 0) != 0) {
                         return Status::Corrupted("a 'next' link leaves the API");
                       }
                       return next;
                     });
}

Status BitbucketCloudApi::CreateHook(const WantedHook& hook) { return CreateHookIn(Hooks(), HookBody(hook)); }

Status BitbucketCloudApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  return UpdateHookIn(Hooks(), id, HookBody(hook));
}

Status BitbucketCloudApi::DeleteHook(const std::string& id) { return DeleteHookIn(Hooks(), id); }

Status BitbucketCloudApi::PostCommitStatus(const CommitStatusReport& r) {
  // A build status needs a link: the commit's own page when there is no status page.
  std::string url = !r.target_url.empty() ? r.target_url : CommitWebUrl(target_.provider, target_.remote_url, r.commit);
  return Admin("POST", repo_url_ + "/commit/" + UrlEncodeComponent(r.commit) + "/statuses/build", BitbucketBuildStatusJson(r, url),
               "Bitbucket Cloud: the build status of " + r.commit.substr(0, 12) + " in " + target_.repo, kStatusRight)
      .status();
}

}  // namespace gitsyncd
