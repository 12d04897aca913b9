#include "api/provider_api.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <thread>

#include "api/azure_api.h"
#include "api/bitbucket_cloud_api.h"
#include "api/bitbucket_server_api.h"
#include "api/github_api.h"
#include "api/gitlab_api.h"

namespace gitsyncd {

namespace {

// The shared retry loop. `write`: a request with a body, sent again only after a rate-limit
// answer (which means it was not processed).
template <class Request>
Result<HttpsResponse> WithRetries(const ApiTarget& target, bool write, Request request) {
  std::chrono::seconds backoff(1);
  for (int attempt = 0;; ++attempt) {
    auto res = request();
    bool last = attempt >= 3;
    if (!res.ok()) {
      if (write || res.status().code() != Status::Code::kUnavailable || last) return res;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      continue;
    }
    int st = res->status;
    bool limited = st == 429 || (st == 403 && res->Header("x-ratelimit-remaining") == "0");
    if (limited) {
      long long wait = 0;
      if (std::string ra = res->Header("retry-after"); !ra.empty()) {
        wait = std::atoll(ra.c_str());
      } else if (std::string reset = res->Header("x-ratelimit-reset"); !reset.empty()) {
        wait = std::atoll(reset.c_str()) - static_cast<long long>(std::time(nullptr));
      } else {
        wait = 60;
      }
      wait = std::max(wait, 1LL);
      if (wait > target.max_rate_limit_wait.count() || last) {
        return Status::Unavailable("rate limited by " + target.api_base + " (HTTP " + std::to_string(st) +
                                   "); the limit resets in " + std::to_string(wait) + " s");
      }
      spdlog::info("api: rate limited by {} (HTTP {}), waiting {} s as the provider asks", target.api_base, st, wait);
      std::this_thread::sleep_for(std::chrono::seconds(wait));
      continue;
    }
    if (st >= 500 && !last && !write) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      continue;
    }
    return res;
  }
}

}  // namespace

Result<HttpsResponse> ApiGet(HttpsClient& client, const ApiTarget& target, const std::string& url,
                             const HeaderList& headers, const std::string& download_to, uint64_t max_download) {
  return WithRetries(target, false, [&] {
    return download_to.empty() ? client.Get(url, headers) : client.Download(url, headers, download_to, max_download);
  });
}

Result<HttpsResponse> ApiSend(HttpsClient& client, const ApiTarget& target, const std::string& method,
                              const std::string& url, const HeaderList& headers, const std::string& body) {
  return WithRetries(target, true, [&] { return client.Send(method, url, headers, body); });
}

Result<std::vector<RemoteRepo>> ProviderApi::ListRepositories(const std::string&) {
  return Status::InvalidArgument("listing an account's repositories is not implemented for this provider yet");
}

Result<std::vector<std::string>> ProviderApi::ChangedFiles(const std::string&, const std::string&) {
  return Status::InvalidArgument("comparing commits is not implemented for this provider");
}

Result<std::string> ProviderApi::Commit(const CommitRequest&) {
  return Status::InvalidArgument("writing back through the API is not implemented for this provider yet");
}

Result<std::unique_ptr<ProviderApi>> MakeProviderApi(const ApiTarget& target) {
  if (target.token.empty()) return Status::InvalidArgument("fetch: api needs api.token");
  switch (target.provider) {
    case Provider::kGitHub:
      return std::unique_ptr<ProviderApi>(new GitHubApi(target));
    case Provider::kGitLab:
      return std::unique_ptr<ProviderApi>(new GitLabApi(target));
    case Provider::kAzureRepos:
      return std::unique_ptr<ProviderApi>(new AzureApi(target));
    case Provider::kBitbucketServer:
      return std::unique_ptr<ProviderApi>(new BitbucketServerApi(target));
    case Provider::kBitbucketCloud:
      return std::unique_ptr<ProviderApi>(new BitbucketCloudApi(target));
    default:
      return Status::InvalidArgument("fetch: api is not implemented for provider " +
                                     std::string(ProviderName(target.provider)) +
                                     " yet; use fetch: git");
  }
}

}  // namespace gitsyncd
