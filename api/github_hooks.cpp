// GitHub's repository webhooks, their deliveries and commit statuses (see github_api.h).
#include <boost/json.hpp>

#include "api/api_answer.h"
#include "api/github_api.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// https://docs.github.com/en/rest/repos/webhooks ("The fine-grained token must have the
// following permission set: Webhooks (write)"; classic tokens: admin:repo_hook).
constexpr const char* kHookRight =
    "the 'admin:repo_hook' scope (classic token) or the repository permission 'Webhooks: Read and write' "
    "(fine-grained token), as a repository admin";
constexpr const char* kStatusRight =
    "the 'repo:status' scope (classic token) or the repository permission 'Commit statuses: Read and write' "
    "(fine-grained token)";

std::string HookBody(const WantedHook& hook, bool create) {
  json::object config{{"url", hook.url}, {"content_type", "json"}, {"insecure_ssl", "0"}, {"secret", hook.secret}};
  json::object o{{"active", true}, {"events", json::array{"push"}}, {"config", std::move(config)}};
  if (create) o["name"] = "web";
  return json::serialize(o);
}

RemoteHook ParseHook(const json::value& v) {
  RemoteHook h;
  if (const json::value* id = Member(v, "id"); id && id->is_int64()) h.id = std::to_string(id->as_int64());
  const json::value* config = Member(v, "config");
  h.url = Str(Member(config, "url"));
  std::string events = api_answer::StrList(Member(v, "events"));
  bool active = api_answer::True(Member(v, "active"));
  std::string content = Str(Member(config, "content_type"));
  std::string insecure = Str(Member(config, "insecure_ssl"));
  if (!active) h.drift = "inactive";
  else if (events != "push") h.drift = "events: " + events;
  else if (content != "json") h.drift = "content type: " + content;
  else if (insecure != "0") h.drift = "TLS verification off";
  h.as_wanted = h.drift.empty();
  return h;
}

}  // namespace

HookCollection GitHubApi::Hooks() {
  return {"GitHub", "webhook", target_.repo, RepoUrl() + "/hooks", "PATCH",
          [this](const std::string& method, const std::string& url, const std::string& body, const std::string& what) {
            return AdminRequest(client_, target_, method, url, Headers(false), body, what, kHookRight);
          }};
}

Result<std::vector<RemoteHook>> GitHubApi::ListHooks() {
  HookCollection hooks = Hooks();
  int page = 1;
  // Pages are numbered; a short page is the last (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
  return ListHooksIn(hooks, hooks.url + "?per_page=100&page=1",
                     [&](const HttpsResponse&, const json::value& v, std::vector<RemoteHook>* out) -> Result<std::string> {
                       if (!v.is_array()) return Status::Corrupted("the answer is not a list");
                       for (const auto& h : v.as_array()) out->push_back(ParseHook(h));
                       if (v.as_array().size() < 100) return std::string();
                       return hooks.url + "?per_page=100&page=" + std::to_string(++page);
                     });
}

Status GitHubApi::CreateHook(const WantedHook& hook) { return CreateHookIn(Hooks(), HookBody(hook, true)); }

Status GitHubApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  return UpdateHookIn(Hooks(), id, HookBody(hook, false));
}

Status GitHubApi::DeleteHook(const std::string& id) { return DeleteHookIn(Hooks(), id); }

Result<HookDelivery> GitHubApi::LastDelivery(const std::string& id) {
  std::string what = "GitHub: the deliveries of webhook " + id + " of " + target_.repo;
  auto res = Hooks().send("GET", RepoUrl() + "/hooks/" + UrlEncodeComponent(id) + "/deliveries?per_page=1", "", what);
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, what);
  if (!v.ok()) return v.status();
  HookDelivery d;
  d.reported = true;
  if (!v->is_array() || v->as_array().empty()) return d;
  const json::value& last = v->as_array().front();  // newest first
  d.any = true;
  d.when = Str(Member(last, "delivered_at"));
  d.status = Str(Member(last, "status"));
  if (const json::value* c = Member(last, "status_code"); c && c->is_int64()) d.status_code = static_cast<int>(c->as_int64());
  return d;
}

Status GitHubApi::PostCommitStatus(const CommitStatusReport& r) {
  json::object o{{"state", r.state == CommitState::kSuccess ? "success" : "failure"},
                 {"description", r.description.substr(0, 140)},  // GitHub keeps at most 140 characters
                 {"context", r.context}};
  if (!r.target_url.empty()) o["target_url"] = r.target_url;
  return AdminRequest(client_, target_, "POST", RepoUrl() + "/statuses/" + UrlEncodeComponent(r.commit), Headers(false),
                      json::serialize(o), "GitHub: posting the status of " + r.commit.substr(0, 12) + " in " + target_.repo,
                      kStatusRight)
      .status();
}

}  // namespace gitsyncd
