// The provider side of a repository that gitsyncd manages besides its content: the webhook
// that delivers its pushes to us, and the commit statuses that tell people a commit was
// synced. Each provider's API implements this next to its content reader (github_hooks.cpp,
// gitlab_hooks.cpp, bitbucket_cloud_hooks.cpp, bitbucket_server_hooks.cpp, azure_hooks.cpp).
// A token that may not manage hooks or post statuses gets an error naming the permission.
#pragma once

#include <boost/json/value.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/provider_api.h"

namespace gitsyncd {

// The hook gitsyncd wants: push events only, to `url`, with `secret` (the HMAC key; GitLab's
// token; Azure's basic-auth password), JSON content where the provider lets one choose.
struct WantedHook {
  std::string url;
  std::string secret;
};

struct RemoteHook {
  std::string id;   // the provider's id (number, UUID or subscription GUID) as text
  std::string url;  // where it delivers
  // Everything but the secret as wanted (push events only, active, JSON); providers never
  // show a secret back, so a changed secret is found by the caller (see webhook_registry.h).
  bool as_wanted = false;
  std::string drift;  // what differs, for the log ("events: push, issues")
};

// The last delivery of a hook, where the provider reports deliveries (GitHub).
struct HookDelivery {
  bool reported = false;  // false: the provider offers no delivery history through its API
  bool any = false;       // a delivery was made
  std::string when;       // as the provider says it (ISO 8601)
  int status_code = 0;    // our listener's answer
  std::string status;     // the provider's words ("OK", "failed to connect")
};

enum class CommitState { kSuccess, kFailure };

struct CommitStatusReport {
  std::string commit;       // full object id
  std::string context;      // gitsyncd/<instance>/<binding>: one status per binding, replaced each pass
  CommitState state = CommitState::kSuccess;
  std::string description;  // one line
  std::string target_url;   // may be empty (Bitbucket requires one: the commit's page is used)
};

class RepoHooks {
 public:
  virtual ~RepoHooks() = default;
  // Every hook of the repository (all pages).
  virtual Result<std::vector<RemoteHook>> ListHooks() = 0;
  virtual Status CreateHook(const WantedHook& hook) = 0;
  // Makes hook `id` deliver as wanted (URL, events, secret, content type, active).
  virtual Status UpdateHook(const std::string& id, const WantedHook& hook) = 0;
  virtual Status DeleteHook(const std::string& id) = 0;
  virtual Result<HookDelivery> LastDelivery(const std::string& id);
  virtual Status PostCommitStatus(const CommitStatusReport& report) = 0;
  // The repository as the provider names it (for messages).
  virtual std::string RepoName() const = 0;
};

// The hooks API of the target's provider; an error for plain Git remotes.
Result<std::unique_ptr<RepoHooks>> MakeRepoHooks(const ApiTarget& target);

// An answer to a hook or status request: 2xx passes; a token that lacks the right (403, 404 as
// GitHub hides hooks, and the provider's own 401 forms) becomes PermissionDenied naming
// `needs`; an unknown token PermissionDenied saying so; 5xx Unavailable; others
// InvalidArgument with the provider's words.
Result<HttpsResponse> CheckedAdmin(Provider provider, Result<HttpsResponse> res, const std::string& what,
                                   const std::string& base, const std::string& needs);

// The build status both Bitbucket Cloud and Server take (the same JSON shape in both APIs):
// `url` is required there, so the caller passes the commit's page when there is no status page.
std::string BitbucketBuildStatusJson(const CommitStatusReport& report, const std::string& url);

// A hook or status request: GET through ApiGet, others through ApiSend with `body` as JSON
// (when not empty), the answer through CheckedAdmin.
Result<HttpsResponse> AdminRequest(HttpsClient& client, const ApiTarget& target, const std::string& method,
                                   const std::string& url, HeaderList headers, const std::string& body,
                                   const std::string& what, const std::string& needs);

// Every provider keeps its hooks as a REST collection: listed page by page at `url`, created
// by POST to it, changed and deleted at `url`/<id>. What differs is data, so the requests and
// their messages are written once, here.
struct HookCollection {
  std::string provider;       // as messages name it: "GitHub"
  std::string noun;           // what the provider calls a hook: "webhook", "hook", "subscription"
  std::string repo;           // for messages
  std::string url;            // the collection
  std::string update_method;  // PATCH or PUT
  // One request with the provider's authentication, answered through CheckedAdmin with the
  // permission that managing hooks needs.
  std::function<Result<HttpsResponse>(const std::string& method, const std::string& url, const std::string& body,
                                      const std::string& what)>
      send;
};

// Reads one page of a hook list into `out` and returns the next page's URL ("" after the last).
using HookPageReader = std::function<Result<std::string>(const HttpsResponse& answer, const boost::json::value& page,
                                                         std::vector<RemoteHook>* out)>;

// Every hook, from `first_page` on (at most 20 pages, so a provider that pages forever ends).
Result<std::vector<RemoteHook>> ListHooksIn(const HookCollection& hooks, const std::string& first_page,
                                            const HookPageReader& read);
Status CreateHookIn(const HookCollection& hooks, const std::string& body);
Status UpdateHookIn(const HookCollection& hooks, const std::string& id, const std::string& body);
Status DeleteHookIn(const HookCollection& hooks, const std::string& id);

}  // namespace gitsyncd
