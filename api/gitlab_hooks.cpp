// GitLab's project hooks and commit statuses (see gitlab_api.h).
#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/gitlab_api.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// Project hooks need the Maintainer role (https://docs.gitlab.com/ee/user/permissions.html:
// "Manage project hooks"); statuses the Developer role; both the 'api' scope.
constexpr const char* kHookRight = "the 'api' scope and the Maintainer role (or higher) in the project";
constexpr const char* kStatusRight = "the 'api' scope and the Developer role (or higher) in the project";

// Every event a project hook can subscribe to besides pushes (project_webhooks.html).
constexpr const char* kOtherEvents[] = {"tag_push_events",       "merge_requests_events", "issues_events",
                                        "confidential_issues_events", "note_events", "confidential_note_events",
                                        "job_events",            "pipeline_events",       "wiki_page_events",
                                        "deployment_events",     "releases_events"};

std::string HookBody(const WantedHook& hook) {
  json::object o{{"url", hook.url}, {"token", hook.secret}, {"push_events", true}, {"enable_ssl_verification", true},
                 {"push_events_branch_filter", ""}};
  for (const char* e : kOtherEvents) o[e] = false;
  return json::serialize(o);
}

RemoteHook ParseHook(const json::value& v) {
  RemoteHook h;
  if (const json::value* id = Member(v, "id"); id && id->is_int64()) h.id = std::to_string(id->as_int64());
  h.url = Str(Member(v, "url"));
  if (!api_answer::True(Member(v, "push_events"))) h.drift = "push events off";
  for (const char* e : kOtherEvents) {
    if (h.drift.empty() && api_answer::True(Member(v, e))) h.drift = std::string(e) + " on";
  }
  if (h.drift.empty() && !api_answer::True(Member(v, "enable_ssl_verification"))) h.drift = "TLS verification off";
  if (h.drift.empty() && !Str(Member(v, "push_events_branch_filter")).empty()) h.drift = "a branch filter";
  h.as_wanted = h.drift.empty();
  return h;
}

}  // namespace

Result<HttpsResponse> GitLabApi::Admin(const std::string& method, const std::string& url, const std::string& body,
                                       const std::string& what, const std::string& needs) {
  return AdminRequest(client_, target_, method, url, {{"PRIVATE-TOKEN", target_.token}, {"Accept", "application/json"}},
                      body, what, needs);
}

HookCollection GitLabApi::Hooks() {
  return {"GitLab", "hook", target_.repo, target_.api_base + "/projects/" + project_ + "/hooks", "PUT",
          [this](const std::string& method, const std::string& url, const std::string& body, const std::string& what) {
            return Admin(method, url, body, what, kHookRight);
          }};
}

Result<std::vector<RemoteHook>> GitLabApi::ListHooks() {
  HookCollection hooks = Hooks();
  int page = 1;
  // x-next-page is empty on the last page (https://docs.gitlab.com/ee/api/rest/#pagination-link-header).
  return ListHooksIn(hooks, hooks.url + "?per_page=100&page=1",
                     [&](const HttpsResponse& res, const json::value& v, std::vector<RemoteHook>* out) -> Result<std::string> {
                       if (!v.is_array()) return Status::Corrupted("the answer is not a list");
                       for (const auto& h : v.as_array()) out->push_back(ParseHook(h));
                       if (res.Header("x-next-page").empty()) return std::string();
                       return hooks.url + "?per_page=100&page=" + std::to_string(++page);
                     });
}

Status GitLabApi::CreateHook(const WantedHook& hook) { return CreateHookIn(Hooks(), HookBody(hook)); }

Status GitLabApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  return UpdateHookIn(Hooks(), id, HookBody(hook));
}

Status GitLabApi::DeleteHook(const std::string& id) { return DeleteHookIn(Hooks(), id); }

Status GitLabApi::PostCommitStatus(const CommitStatusReport& r) {
  json::object o{{"state", r.state == CommitState::kSuccess ? "success" : "failed"},
                 {"name", r.context},
                 {"description", r.description}};
  if (!r.target_url.empty()) o["target_url"] = r.target_url;
  return Admin("POST", target_.api_base + "/projects/" + project_ + "/statuses/" + UrlEncodeComponent(r.commit),
               json::serialize(o),
               "GitLab: setting the status of " + r.commit.substr(0, 12) + " in " + target_.repo, kStatusRight)
      .status();
}

}  // namespace gitsyncd
