// Azure DevOps service hook subscriptions (git.push to a Web Hooks consumer) and Git commit
// statuses (see azure_api.h).
#include <boost/json.hpp>

#include <optional>

#include "api/api_answer.h"
#include "api/azure_api.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// https://learn.microsoft.com/en-us/azure/devops/integrate/get-started/authentication/oauth#scopes and the
// project's service hooks security ("Edit subscriptions").
constexpr const char* kHookRight =
    "the PAT scope 'Service Hooks (Read & write)' (vso.hooks_write) and the permission 'Edit subscriptions' on "
    "the project's service hooks";
constexpr const char* kStatusRight = "the PAT scope 'Code (Status)' (vso.code_status)";

// The organization (or collection) URL: the project's API base without its last segment.
std::string OrgUrl(const std::string& base) { return base.substr(0, base.rfind('/')); }

}  // namespace

Result<HttpsResponse> AzureApi::Admin(const std::string& method, const std::string& url, const std::string& query,
                                      const std::string& body, const std::string& what, const std::string& needs) {
  HeaderList headers{{"Authorization", auth_}, {"Accept", "application/json"}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto res = Versioned([&](const std::string& version) {
    std::string full = url + "?" + (query.empty() ? "" : query + "&") + "api-version=" + version;
    return method == "GET" ? ApiGet(client_, target_, full, headers) : ApiSend(client_, target_, method, full, headers, body);
  });
  return CheckedAdmin(target_.provider, std::move(res), what, base_, needs);
}

Status AzureApi::LoadIds() {
  if (!repo_id_.empty()) return Status::Ok();
  std::string what = "Azure DevOps: repository " + repo_;
  auto res = Admin("GET", base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_), "", "", what,
                   "the PAT scope 'Code (Read)' (vso.code)");
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, what);
  if (!v.ok()) return v.status();
  repo_id_ = Str(Member(*v, "id"));
  project_id_ = Str(Member(Member(*v, "project"), "id"));
  if (repo_id_.empty() || project_id_.empty()) return Status::Corrupted(what + ": the answer names no id or project id");
  return Status::Ok();
}

std::string AzureApi::SubscriptionBody(const WantedHook& hook) const {
  // The listener takes a secret with ':' as user:password, as a person would type it here.
  size_t colon = hook.secret.find(':');
  std::string user = colon == std::string::npos ? "gitsyncd" : hook.secret.substr(0, colon);
  std::string password = colon == std::string::npos ? hook.secret : hook.secret.substr(colon + 1);
  return json::serialize(json::object{
      {"publisherId", "tfs"},
      {"eventType", "git.push"},
      {"resourceVersion", "1.0"},
      {"consumerId", "webHooks"},
      {"consumerActionId", "httpRequest"},
      {"publisherInputs", json::object{{"projectId", project_id_}, {"repository", repo_id_}, {"branch", ""}}},
      {"consumerInputs", json::object{{"url", hook.url},
                                      {"basicAuthUsername", user},
                                      {"basicAuthPassword", password},
                                      {"resourceDetailsToSend", "all"}}}});
}

HookCollection AzureApi::Hooks() {
  return {"Azure DevOps", "subscription", repo_, OrgUrl(base_) + "/_apis/hooks/subscriptions", "PUT",
          [this](const std::string& method, const std::string& url, const std::string& body, const std::string& what) {
            size_t q = url.find('?');  // Admin adds api-version to the query
            return Admin(method, url.substr(0, q), q == std::string::npos ? "" : url.substr(q + 1), body, what, kHookRight);
          }};
}

// One subscription as a hook; nullopt for one of another repository (the list spans the organization).
std::optional<RemoteHook> AzureApi::ParseSubscription(const json::value& s) const {
  const json::value* pub = Member(s, "publisherInputs");
  if (Str(Member(pub, "repository")) != repo_id_) return std::nullopt;
  const json::value* con = Member(s, "consumerInputs");
  RemoteHook h;
  h.id = Str(Member(s, "id"));
  h.url = Str(Member(con, "url"));
  std::string details = Str(Member(con, "resourceDetailsToSend"));
  if (Str(Member(s, "status")) != "enabled") h.drift = "status " + Str(Member(s, "status"));
  else if (!Str(Member(pub, "branch")).empty()) h.drift = "a branch filter";
  else if (!details.empty() && details != "all") h.drift = "resource details: " + details;
  else if (Str(Member(con, "basicAuthUsername")).empty()) h.drift = "no basic auth";
  h.as_wanted = h.drift.empty();
  return h;
}

Result<std::vector<RemoteHook>> AzureApi::ListHooks() {
  if (Status s = LoadIds(); !s.ok()) return s;
  HookCollection hooks = Hooks();
  // The list is filtered by the query and comes whole, unpaged
  // (https://learn.microsoft.com/en-us/rest/api/azure/devops/hooks/subscriptions/list).
  return ListHooksIn(hooks, hooks.url + "?publisherId=tfs&eventType=git.push&consumerId=webHooks&consumerActionId=httpRequest",
                     [&](const HttpsResponse&, const json::value& v, std::vector<RemoteHook>* out) -> Result<std::string> {
                       const json::value* values = Member(v, "value");
                       if (!values || !values->is_array()) return Status::Corrupted("the answer has no 'value' list");
                       for (const auto& s : values->as_array()) {
                         if (auto h = ParseSubscription(s)) out->push_back(std::move(*h));
                       }
                       return std::string();
                     });
}

Status AzureApi::CreateHook(const WantedHook& hook) {
  if (Status s = LoadIds(); !s.ok()) return s;
  return CreateHookIn(Hooks(), SubscriptionBody(hook));
}

Status AzureApi::UpdateHook(const std::string& id, const WantedHook& hook) {
  if (Status s = LoadIds(); !s.ok()) return s;
  return UpdateHookIn(Hooks(), id, SubscriptionBody(hook));
}

Status AzureApi::DeleteHook(const std::string& id) { return DeleteHookIn(Hooks(), id); }

Status AzureApi::PostCommitStatus(const CommitStatusReport& r) {
  // The context's name is its last part (the binding), its genre the rest (gitsyncd/<instance>).
  size_t slash = r.context.rfind('/');
  json::object context{{"name", slash == std::string::npos ? r.context : r.context.substr(slash + 1)},
                       {"genre", slash == std::string::npos ? "" : r.context.substr(0, slash)}};
  json::object o{{"state", r.state == CommitState::kSuccess ? "succeeded" : "failed"},
                 {"description", r.description},
                 {"context", std::move(context)}};
  if (!r.target_url.empty()) o["targetUrl"] = r.target_url;
  return Admin("POST",
               base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_) + "/commits/" +
                   UrlEncodeComponent(r.commit) + "/statuses",
               "", json::serialize(o), "Azure DevOps: the status of " + r.commit.substr(0, 12) + " in " + repo_,
               kStatusRight)
      .status();
}

}  // namespace gitsyncd
