#include "api/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "config/text.h"

namespace gitsyncd {

std::optional<std::time_t> ParseHttpDate(const std::string& text) {
  // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT",
  // asctime "Sun Nov  6 08:49:37 1994" (RFC 9110 5.6.7); strptime reads names in the C locale.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

std::optional<long long> ParseRetryAfter(const std::string& value, std::time_t now) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return 999999999LL;  // absurdly long: the caller's bound refuses it
    return std::atoll(value.c_str());
  }
  auto date = ParseHttpDate(value);
  if (!date) return std::nullopt;
  return std::max<long long>(0, static_cast<long long>(*date - now));
}

namespace {

// A Unix-time reset header as seconds from `now`.
std::optional<long long> UntilReset(const std::string& value, std::time_t now) {
  if (value.empty() || value.size() > 12 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::max<long long>(0, std::atoll(value.c_str()) - static_cast<long long>(now));
}

bool MentionsSecondaryLimit(const std::string& body) {
  // "You have exceeded a secondary rate limit..." (older answers: "abuse detection mechanism").
  std::string lower = AsciiLower(body.substr(0, 2000));
  return lower.find("secondary rate limit") != std::string::npos || lower.find("abuse detection") != std::string::npos;
}

}  // namespace

std::optional<RateLimitVerdict> RateLimitAnswer(Provider provider, const HttpsResponse& res, std::time_t now) {
  int st = res.status;
  auto retry_after = ParseRetryAfter(res.Header("retry-after"), now);
  if (provider == Provider::kGitHub) {
    // https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    // ("Exceeding the rate limit", "Handle rate limit errors appropriately"): primary limits
    // answer 403 or 429 with x-ratelimit-remaining: 0 (wait until x-ratelimit-reset);
    // secondary limits answer 403 or 429, with retry-after or with no hint (then wait at
    // least one minute).
    if (st != 403 && st != 429) return std::nullopt;
    bool exhausted = res.Header("x-ratelimit-remaining") == "0";
    bool secondary = MentionsSecondaryLimit(res.body);
    if (st == 403 && !retry_after && !exhausted && !secondary) return std::nullopt;  // a real permission error
    if (retry_after) return RateLimitVerdict{*retry_after, exhausted && !secondary ? "primary" : "secondary"};
    if (exhausted) {
      if (auto reset = UntilReset(res.Header("x-ratelimit-reset"), now)) return RateLimitVerdict{*reset, "primary"};
    }
    return RateLimitVerdict{60, exhausted ? "primary" : "secondary"};
  }
  if (st == 429) {
    if (retry_after) return RateLimitVerdict{*retry_after, "primary"};
    // GitLab: RateLimit-Reset (https://docs.gitlab.com/ee/administration/settings/user_and_ip_rate_limits.html
    // "Response headers"); Azure DevOps: X-RateLimit-Reset
    // (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits#api-client-experience).
    const char* reset = provider == Provider::kGitLab ? "ratelimit-reset" : "x-ratelimit-reset";
    if (auto until = UntilReset(res.Header(reset), now)) return RateLimitVerdict{*until, "primary"};
    // Bitbucket answers 429 without a hint (https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/).
    return RateLimitVerdict{60, "primary"};
  }
  if (st == 503 && retry_after) return RateLimitVerdict{*retry_after, "throttled"};
  return std::nullopt;
}

long long DelayAfterSuccess(Provider provider, const HttpsResponse& res, std::time_t now) {
  // Azure DevOps: "Retry-After ... the number of seconds the client should wait before sending
  // more requests" on delayed (not yet refused) answers (rate-limits#api-client-experience).
  if (provider != Provider::kAzureRepos || res.status < 200 || res.status >= 300) return 0;
  return ParseRetryAfter(res.Header("retry-after"), now).value_or(0);
}

ContentWriteLimit DocumentedContentWriteLimit(Provider provider) {
  // GitHub, "About secondary rate limits": "No more than 80 content-generating requests per
  // minute and no more than 500 content-generating requests per hour are generally allowed."
  if (provider == Provider::kGitHub) return ContentWriteLimit{80, 500, 1.0};
  return ContentWriteLimit{};
}

namespace {
std::mutex totals_mu;
std::map<std::string, RateLimitTotals>& Totals() {
  static std::map<std::string, RateLimitTotals> totals;
  return totals;
}
}  // namespace

std::map<std::string, RateLimitTotals> RateLimitTotalsByReason() {
  std::lock_guard<std::mutex> lock(totals_mu);
  return Totals();
}

void RecordRateLimitWait(const std::string& reason, double seconds, bool refused) {
  std::lock_guard<std::mutex> lock(totals_mu);
  auto& t = Totals()[reason];
  if (refused) {
    ++t.refused;
  } else {
    ++t.waits;
    t.waited_s += seconds;
  }
}

struct ContentWritePacer::State {
  std::mutex mu;
  std::deque<std::chrono::steady_clock::time_point> sent;  // booked send times, ascending
  std::chrono::steady_clock::time_point not_before{};
};

ContentWritePacer& ContentWritePacer::For(const std::string& api_base, const std::string& token) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<State>> states;
  static std::map<std::string, std::unique_ptr<ContentWritePacer>> pacers;
  // Keyed by the token's hash: the limits are per user, and the token is kept nowhere else.
  std::string key = api_base + "\n" + std::to_string(std::hash<std::string>{}(token));
  std::lock_guard<std::mutex> lock(mu);
  auto& p = pacers[key];
  if (!p) {
    states[key] = std::make_unique<State>();
    p.reset(new ContentWritePacer(states[key].get()));
  }
  return *p;
}

std::chrono::milliseconds ContentWritePacer::Acquire(const ContentWriteLimit& limit, std::chrono::milliseconds max_wait,
                                                     bool* booked) {
  using clock = std::chrono::steady_clock;
  auto scaled = [&](double seconds) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds * limit.window_scale));
  };
  // A tenth over the documented windows: a booking's request reaches the server a little after
  // its booked time, and the server counts arrivals.
  clock::duration minute = scaled(66), hour = scaled(3960);
  std::lock_guard<std::mutex> lock(state_->mu);
  auto now = clock::now();
  while (!state_->sent.empty() && state_->sent.front() + std::max(minute, hour) <= now) state_->sent.pop_front();
  auto at = std::max(now, state_->not_before);
  auto& sent = state_->sent;
  // The n-th latest booking leaves the window `span` after it was sent.
  auto room_after = [&](int n, clock::duration span) {
    return n > 0 && static_cast<int>(sent.size()) >= n ? sent[sent.size() - static_cast<size_t>(n)] + span : now;
  };
  at = std::max({at, room_after(limit.per_minute, minute), room_after(limit.per_hour, hour)});
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  *booked = wait <= max_wait;
  if (*booked && (limit.per_minute > 0 || limit.per_hour > 0)) sent.push_back(at);
  return wait;
}

void ContentWritePacer::DelayAll(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->not_before = std::max(state_->not_before, std::chrono::steady_clock::now() + delay);
}

std::chrono::milliseconds ContentWritePacer::PendingDelay() {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto now = std::chrono::steady_clock::now();
  return state_->not_before > now ? std::chrono::duration_cast<std::chrono::milliseconds>(state_->not_before - now)
                                  : std::chrono::milliseconds(0);
}

}  // namespace gitsyncd
