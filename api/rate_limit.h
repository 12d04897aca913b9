// One rate-limit policy for every provider's REST API: which answers mean "slow down" and how
// long to wait, from each provider's documented headers; pacing of content-creating writes
// below the documented limits; and process-wide totals of the waits (for metrics).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>

#include "api/https_client.h"
#include "config/provider.h"

namespace gitsyncd {

// An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms) as
// Unix time; nullopt when it is none of them.
std::optional<std::time_t> ParseHttpDate(const std::string& text);

// Retry-After (RFC 9110 10.2.3) as seconds from `now`: delay-seconds or an HTTP-date (a date
// in the past is 0); nullopt when absent or malformed.
std::optional<long long> ParseRetryAfter(const std::string& value, std::time_t now);

struct RateLimitVerdict {
  long long wait_s = 0;  // how long the provider asks to wait before the next request
  std::string reason;    // "primary", "secondary", "throttled" (for logs, errors and metrics)
};

// Whether `res` from `provider` is a rate-limit answer and for how long to wait:
//  - any provider: 429; the wait is Retry-After, else the provider's reset header, else 60 s;
//  - GitHub also 403 with Retry-After, with x-ratelimit-remaining: 0 (wait until
//    x-ratelimit-reset) or naming a secondary rate limit in its message (at least one minute);
//  - GitLab: RateLimit-Reset (Unix time) when Retry-After is missing;
//  - Azure DevOps: X-RateLimit-Reset (Unix time) when Retry-After is missing.
// nullopt for every other answer.
std::optional<RateLimitVerdict> RateLimitAnswer(Provider provider, const HttpsResponse& res, std::time_t now);

// Azure DevOps delays a user near its limit with Retry-After on successful answers; the next
// request should wait that long. 0 when the answer asks for no delay.
long long DelayAfterSuccess(Provider provider, const HttpsResponse& res, std::time_t now);

// Limits on content-creating requests (GitHub: 80 a minute, 500 an hour). `window_scale`
// shrinks both windows alike (tests run the real policy in milliseconds).
struct ContentWriteLimit {
  int per_minute = 0;  // 0 = unlimited
  int per_hour = 0;
  double window_scale = 1.0;
};
ContentWriteLimit DocumentedContentWriteLimit(Provider provider);

// Process-wide totals, by reason ("primary", "secondary", "throttled", "pacing").
struct RateLimitTotals {
  uint64_t waits = 0;
  double waited_s = 0;
  uint64_t refused = 0;  // waits longer than allowed: the pass failed instead
};
std::map<std::string, RateLimitTotals> RateLimitTotalsByReason();
void RecordRateLimitWait(const std::string& reason, double seconds, bool refused);

// Paces content-creating requests to one API with one token (shared by every reader of the
// process): Acquire() returns how long to sleep before the next one may go out so that no
// window holds more than its limit, and records it as sent at that time.
class ContentWritePacer {
 public:
  static ContentWritePacer& For(const std::string& api_base, const std::string& token);
  // The wait before the next content-creating request may go out. When it is at most
  // `max_wait` the request is booked for then (`*booked` = true); otherwise nothing is booked.
  std::chrono::milliseconds Acquire(const ContentWriteLimit& limit, std::chrono::milliseconds max_wait, bool* booked);
  // A delay the provider asked for (Azure's Retry-After on a success), before any request.
  void DelayAll(std::chrono::milliseconds delay);
  std::chrono::milliseconds PendingDelay();

 private:
  struct State;
  explicit ContentWritePacer(State* state) : state_(state) {}
  State* state_;
};

}  // namespace gitsyncd
