// GitLab's project hooks and commit statuses (see gitlab_api.h).
#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/gitlab_api.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using api_answer::Member;
using api_answer::Str;

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

Result<HttpsResponse> GitLabApi::Admin(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& what, const std::string& needs) {
  return AdminRequest(client_, target_, method, target_.api_base + "/projects/" + project_ + path, {{"PRIVATE-TOKEN", target_.token}, {"Accept", "application/json"}}, body, what, needs);
}

Result<std::vector<RemoteHook>> GitLabApi::ListHooks() {
  std::vector<RemoteHook> out;
  for (int page = 1; page <= 20; ++page) {
    std::string what = "GitLab: listing the hooks of " + target_.repo;
    auto res = Admin("GET", "/hooks?per_page=100&page=" + std::to_string(page), "", what, kHookRight);
    if (!res.ok()) return res.status();
    auto v = api_answer::ParseJson(*res, what);
    if (!v.ok()) return v.status();
    if (!v->is_array()) return Status::Corrupted(what + ": the answer is not a list");
    for (const auto& h : v->as_array()) out.push_back(ParseHook(h));
    if (res->Header("x-next-page").empty()) break;
  }
  return out;
}

Status GitLabApi::CreateHook(const WantedHook& hook) {
  return Admin("POST", "/hooks", HookBody(hook), "GitLab: adding a hook to " + target_.repo, kHookRight).status();
}

Status GitLabApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  return Admin("PUT", "/hooks/" + UrlEncodeComponent(id), HookBody(hook),
               "GitLab: editing hook " + id + " of " + target_.repo, kHookRight)
      .status();
}

Status GitLabApi::DeleteHook(const std::string& id) {
  return Admin("DELETE", "/hooks/" + UrlEncodeComponent(id), "", "GitLab: deleting hook " + id + " of " + target_.repo,
               kHookRight)
      .status();
}

Status GitLabApi::PostCommitStatus(const CommitStatusReport& r) {
  json::object o{{"state", r.state == CommitState::kSuccess ? "success" : "failed"},
                 {"name", r.context},
                 {"description", r.description}};
  if (!r.target_url.empty()) o["target_url"] = r.target_url;
  return Admin("POST", "/statuses/" + UrlEncodeComponent(r.commit), json::serialize(o),
               "GitLab: setting the status of " + r.commit.substr(0, 12) + " in " + target_.repo, kStatusRight)
      .status();
}

}  // namespace gitsyncd
