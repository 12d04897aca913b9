#include "api/repo_hooks.h"

#include <boost/json.hpp>

#include "api/api_answer.h"
#include "config/url_encode.h"

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

Result<std::vector<RemoteHook>> ListHooksIn(const HookCollection& c, const std::string& first_page,
                                            const HookPageReader& read) {
  std::vector<RemoteHook> out;
  std::string what = c.provider + ": listing the " + c.noun + "s of " + c.repo;
  std::string url = first_page;
  for (int page = 0; page < 20 && !url.empty(); ++page) {
    auto res = c.send("GET", url, "", what);
    if (!res.ok()) return res.status();
    auto v = api_answer::ParseJson(*res, what);
    if (!v.ok()) return v.status();
    auto next = read(*res, *v, &out);
    if (!next.ok()) return Status(next.status()).WithContext(what);
    url = *next;
  }
  return out;
}

Status CreateHookIn(const HookCollection& c, const std::string& body) {
  return c.send("POST", c.url, body, c.provider + ": creating a " + c.noun + " in " + c.repo).status();
}

Status UpdateHookIn(const HookCollection& c, const std::string& id, const std::string& body) {
  return c.send(c.update_method, c.url + "/" + UrlEncodeComponent(id), body,
                c.provider + ": updating " + c.noun + " " + id + " of " + c.repo)
      .status();
}

Status DeleteHookIn(const HookCollection& c, const std::string& id) {
  return c.send("DELETE", c.url + "/" + UrlEncodeComponent(id), "",
                c.provider + ": deleting " + c.noun + " " + id + " of " + c.repo)
      .status();
}

// Every provider's client reads content and manages hooks (one class each), so the hooks
// side is the content reader's object seen through its other base.
Result<std::unique_ptr<RepoHooks>> MakeRepoHooks(const ApiTarget& target) {
  if (target.provider == Provider::kGit) {
    return Status::InvalidArgument("provider 'git' has no API for webhooks or commit statuses");
  }
  if (target.token.empty()) return Status::InvalidArgument("managing webhooks and commit statuses needs api.token");
  auto api = MakeProviderApi(target);
  if (!api.ok()) return api.status();
  if (dynamic_cast<RepoHooks*>(api->get()) == nullptr) {
    return Status::Internal("the " + std::string(ProviderName(target.provider)) + " client manages no hooks");
  }
  return std::unique_ptr<RepoHooks>(dynamic_cast<RepoHooks*>(api->release()));
}

}  // namespace gitsyncd
