#include "api/provider_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/url.hpp>
#include <ctime>

#include "api/azure_api.h"
#include "api/bitbucket_cloud_api.h"
#include "api/bitbucket_server_api.h"
#include "api/github_api.h"
#include "api/gitlab_api.h"
#include "api/io_cancel.h"
#include "config/text.h"

namespace gitsyncd {

namespace {

std::string UtcTime(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

constexpr const char* kCancelled = " cancelled: gitsyncd is stopping or reloading";

// Sleeps `wait` for `reason` if allowed (counted for metrics), else the error naming until when;
// a stop or reload (the thread's IoCancel) cuts the wait short.
Status WaitOrRefuse(const ApiTarget& target, const std::string& reason, std::chrono::milliseconds wait,
                    const std::string& what) {
  if (wait > target.max_rate_limit_wait) {
    RecordRateLimitWait(reason, 0, true);
    auto until = std::time(nullptr) + static_cast<std::time_t>((wait.count() + 999) / 1000);
    return Status::Unavailable(what + "; the wait (" + std::to_string((wait.count() + 999) / 1000) +
                               " s, until " + UtcTime(until) + ") is longer than the " +
                               std::to_string(target.max_rate_limit_wait.count()) +
                               " s a pass may wait, so this pass stops and is retried later");
  }
  if (wait.count() <= 0) return Status::Ok();
  spdlog::info("api: {}; waiting {:.1f} s", what, static_cast<double>(wait.count()) / 1000.0);
  RecordRateLimitWait(reason, static_cast<double>(wait.count()) / 1000.0, false);
  if (!CancellableSleep(wait)) return Status::Unavailable(what + "; the wait was" + kCancelled);
  return Status::Ok();
}

// The shared retry loop. `write`: a request with a body, paced below the provider's
// content-creation limits and sent again only after a rate-limit answer (which means it was
// not processed).
template <class Request>
Result<HttpsResponse> WithRetries(const ApiTarget& target, bool write, Request request) {
  auto& pacer = ContentWritePacer::For(target.api_base, target.token);
  auto max_wait = std::chrono::duration_cast<std::chrono::milliseconds>(target.max_rate_limit_wait);
  std::chrono::seconds backoff(1);
  for (int attempt = 0;; ++attempt) {
    if (Status s = WaitOrRefuse(target, "throttled", pacer.PendingDelay(),
                                target.api_base + " asked to slow down");
        !s.ok()) {
      return s;
    }
    if (write) {
      ContentWriteLimit limit = target.content_writes.value_or(DocumentedContentWriteLimit(target.provider));
      bool booked = false;
      auto wait = pacer.Acquire(limit, max_wait, &booked);
      std::string what = "pacing content-creating requests to " + target.api_base + " (at most " +
                         std::to_string(limit.per_minute) + " a minute and " + std::to_string(limit.per_hour) +
                         " an hour)";
      if (Status s = WaitOrRefuse(target, "pacing", wait, what); !s.ok()) return s;
      (void)booked;  // not booked exactly when the wait is refused
    }
    auto res = request();
    bool last = attempt >= 3;
    if (!res.ok()) {
      if (write || res.status().code() != Status::Code::kUnavailable || last) return res;
      if (!CancellableSleep(backoff)) return res;
      backoff *= 2;
      continue;
    }
    std::time_t now = std::time(nullptr);
    if (long long delay = DelayAfterSuccess(target.provider, *res, now); delay > 0) {
      pacer.DelayAll(std::chrono::seconds(delay));
    }
    int st = res->status;
    if (auto limited = RateLimitAnswer(target.provider, *res, now)) {
      // With no hint, GitHub asks to wait longer each time a secondary limit repeats.
      long long wait = std::max(limited->wait_s, 1LL);
      std::string what = "rate limited by " + target.api_base + " (HTTP " + std::to_string(st) + ", " +
                         limited->reason + " limit)";
      if (last) {
        RecordRateLimitWait(limited->reason, 0, true);
        return Status::Unavailable(what + " again after " + std::to_string(attempt) +
                                   " waits; this pass stops and is retried later");
      }
      if (Status s = WaitOrRefuse(target, limited->reason, std::chrono::seconds(wait), what); !s.ok()) return s;
      continue;
    }
    if (st >= 500 && !last && !write) {
      if (!CancellableSleep(backoff)) return Status::Unavailable(target.api_base + ": retry after HTTP " + std::to_string(st) + kCancelled);
      backoff *= 2;
      continue;
    }
    return res;
  }
}

constexpr int kMaxRedirects = 5;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// "host:port" of an absolute https URL ("" when it is not one).
std::string Origin(const boost::urls::url_view& u) {
  if (u.scheme() != "https") return "";
  return std::string(u.host()) + ":" + (u.has_port() ? std::string(u.port()) : "443");
}

}  // namespace

Result<HttpsResponse> ApiGet(HttpsClient& client, const ApiTarget& target, const std::string& url,
                             const HeaderList& headers, const std::string& download_to, uint64_t max_download) {
  if (download_to.empty()) return WithRetries(target, false, [&] { return client.Get(url, headers); });
  // Downloads follow redirects (Bitbucket Cloud answers an LFS file's src with 301 to its
  // storage); credentials stay with the API's own host.
  auto first = boost::urls::parse_absolute_uri(url);
  std::string origin = first ? Origin(*first) : "";
  std::string current = url;
  HeaderList sent = headers;
  for (int hop = 0;; ++hop) {
    auto res = WithRetries(target, false, [&] { return client.Download(current, sent, download_to, max_download); });
    if (!res.ok() || !IsRedirect(res->status)) return res;
    std::string location = res->Header("location");
    if (hop >= kMaxRedirects) {
      return Status::Unavailable("download " + url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
    }
    auto base = boost::urls::parse_absolute_uri(current);
    auto ref = boost::urls::parse_uri_reference(location);
    boost::urls::url next;
    if (location.empty() || !base || !ref || !boost::urls::resolve(*base, *ref, next)) {
      return Status::Corrupted("download " + url + ": HTTP " + std::to_string(res->status) +
                               " with an unusable Location '" + location.substr(0, 200) + "'");
    }
    if (next.scheme() != "https") {
      return Status::PermissionDenied("download " + url + ": redirected to a non-https URL (" +
                                      std::string(next.scheme()) + "://" + std::string(next.host()) +
                                      "); refusing to follow");
    }
    if (Origin(next) != origin) {
      sent.erase(std::remove_if(sent.begin(), sent.end(),
                                [](const auto& h) {
                                  std::string k = AsciiLower(h.first);
                                  return k == "authorization" || k == "private-token" || k == "cookie";
                                }),
                 sent.end());
    }
    current = std::string(next.buffer());
  }
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

ApiTarget ConnectorApiTarget(const DaemonConfig& daemon, const ConnectorConfig& connector,
                             const std::string& remote_url, const std::string& token) {
  ApiTarget t;
  t.provider = connector.provider;
  t.api_base = connector.api.url;
  t.api_version = connector.api.version;
  t.remote_url = remote_url;
  t.repo = RepoPathFromUrl(remote_url);
  t.token = token;
  t.http.ca_file = daemon.ca_file;
  t.http.timeout = daemon.io_timeout;
  return t;
}

bool SetKindFromGitMode(const std::string& type, const std::string& mode, RemoteEntry* entry) {
  if (type == "commit" || mode == "160000") {
    entry->kind = RemoteEntry::Kind::kSubmodule;
  } else if (mode == "120000") {
    entry->kind = RemoteEntry::Kind::kSymlink;
  } else if (type == "blob") {
    entry->executable = mode == "100755";
  } else {
    return false;
  }
  return true;
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
