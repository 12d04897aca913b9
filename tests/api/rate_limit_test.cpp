// The rate-limit policy's reading of each provider's answers, and the Azure API base derived
// from every remote URL form. Pure functions over recorded header values; the waits
// themselves are played against tests/support/provider_api_server.py in
// tests/sync/api_limits_test.cpp.
#include <boost/test/unit_test.hpp>

#include "api/azure_api.h"
#include "api/rate_limit.h"

using namespace gitsyncd;

namespace {

HttpsResponse Answer(int status, std::map<std::string, std::string> headers, std::string body = "") {
  HttpsResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

constexpr std::time_t kNow = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)

}  // namespace

BOOST_AUTO_TEST_SUITE(rate_limit)

BOOST_AUTO_TEST_CASE(retry_after_in_seconds_and_in_every_http_date_form) {
  BOOST_TEST(ParseRetryAfter("120", kNow).value() == 120);
  BOOST_TEST(ParseRetryAfter("Sun, 06 Nov 1994 08:51:37 GMT", kNow).value() == 120);
  BOOST_TEST(ParseRetryAfter("Sunday, 06-Nov-94 08:51:37 GMT", kNow).value() == 120);
  BOOST_TEST(ParseRetryAfter("Sun Nov  6 08:51:37 1994", kNow).value() == 120);
  BOOST_TEST(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", kNow).value() == 0);  // in the past
  BOOST_TEST(!ParseRetryAfter("", kNow));
  BOOST_TEST(!ParseRetryAfter("soon", kNow));
  BOOST_TEST(!ParseRetryAfter("-5", kNow));
}

BOOST_AUTO_TEST_CASE(github_secondary_limits_are_limits_and_a_plain_403_is_not) {
  std::string secondary = "{\"message\": \"You have exceeded a secondary rate limit. Please wait a few minutes\"}";
  auto with_hint = RateLimitAnswer(Provider::kGitHub, Answer(403, {{"retry-after", "30"}, {"x-ratelimit-remaining", "4000"}}, secondary), kNow);
  BOOST_REQUIRE(with_hint);
  BOOST_TEST(with_hint->wait_s == 30);
  BOOST_TEST(with_hint->reason == "secondary");
  auto no_hint = RateLimitAnswer(Provider::kGitHub, Answer(403, {{"x-ratelimit-remaining", "4000"}}, secondary), kNow);
  BOOST_REQUIRE(no_hint);
  BOOST_TEST(no_hint->wait_s == 60);  // "wait for at least one minute"
  auto on_429 = RateLimitAnswer(Provider::kGitHub, Answer(429, {}, secondary), kNow);
  BOOST_REQUIRE(on_429);
  BOOST_TEST(on_429->wait_s == 60);
  auto primary = RateLimitAnswer(Provider::kGitHub,
                                 Answer(403, {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(kNow + 900)}}), kNow);
  BOOST_REQUIRE(primary);
  BOOST_TEST(primary->wait_s == 900);
  BOOST_TEST(primary->reason == "primary");
  BOOST_TEST(!RateLimitAnswer(Provider::kGitHub,
                              Answer(403, {{"x-ratelimit-remaining", "4999"}}, "{\"message\": \"Resource not accessible by integration\"}"),
                              kNow));
}

BOOST_AUTO_TEST_CASE(gitlab_bitbucket_and_azure_429s) {
  auto gitlab = RateLimitAnswer(Provider::kGitLab, Answer(429, {{"ratelimit-reset", std::to_string(kNow + 42)}}), kNow);
  BOOST_REQUIRE(gitlab);
  BOOST_TEST(gitlab->wait_s == 42);
  auto gitlab_date = RateLimitAnswer(Provider::kGitLab, Answer(429, {{"retry-after", "Sun, 06 Nov 1994 08:49:47 GMT"}}), kNow);
  BOOST_REQUIRE(gitlab_date);
  BOOST_TEST(gitlab_date->wait_s == 10);
  auto bitbucket = RateLimitAnswer(Provider::kBitbucketCloud, Answer(429, {}), kNow);
  BOOST_REQUIRE(bitbucket);
  BOOST_TEST(bitbucket->wait_s == 60);
  BOOST_TEST(!RateLimitAnswer(Provider::kBitbucketServer, Answer(403, {}), kNow));  // a permission error
  auto azure = RateLimitAnswer(Provider::kAzureRepos, Answer(429, {{"x-ratelimit-reset", std::to_string(kNow + 7)}}), kNow);
  BOOST_REQUIRE(azure);
  BOOST_TEST(azure->wait_s == 7);
  BOOST_TEST(DelayAfterSuccess(Provider::kAzureRepos, Answer(200, {{"retry-after", "3"}}), kNow) == 3);
  BOOST_TEST(DelayAfterSuccess(Provider::kGitHub, Answer(200, {{"retry-after", "3"}}), kNow) == 0);
}

BOOST_AUTO_TEST_CASE(pacing_keeps_every_window_below_its_limit) {
  // 3 a "minute" of 60 ms (scale 1/1000), paced over 66 ms (a tenth longer, as every window is):
  // the fourth request waits for the first to leave it.
  auto& pacer = ContentWritePacer::For("https://pacing.test", "token-a");
  ContentWriteLimit limit{3, 1000, 0.001};
  bool booked = false;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(pacer.Acquire(limit, std::chrono::milliseconds(1000), &booked).count() == 0);
    BOOST_TEST(booked);
  }
  auto wait = pacer.Acquire(limit, std::chrono::milliseconds(1000), &booked);
  BOOST_TEST(booked);
  BOOST_TEST(wait.count() > 0);
  BOOST_TEST(wait.count() <= 66);
  // Past the longest wait allowed: not booked, the caller stops.
  auto& strict = ContentWritePacer::For("https://pacing.test", "token-b");
  ContentWriteLimit one{1, 1000, 1.0};
  strict.Acquire(one, std::chrono::milliseconds(0), &booked);
  auto refused = strict.Acquire(one, std::chrono::milliseconds(10), &booked);
  BOOST_TEST(!booked);
  BOOST_TEST(refused.count() > 59000);
}

BOOST_AUTO_TEST_CASE(azure_api_base_from_every_remote_form) {
  BOOST_TEST(AzureApiBase("https://dev.azure.com/acme/Platform/_git/monorepo") == "https://dev.azure.com/acme/Platform");
  BOOST_TEST(AzureApiBase("https://acme@dev.azure.com/acme/My%20Project/_git/monorepo") ==
             "https://dev.azure.com/acme/My%20Project");
  BOOST_TEST(AzureApiBase("https://dev.azure.com/acme/_git/monorepo") == "https://dev.azure.com/acme/monorepo");
  BOOST_TEST(AzureApiBase("https://acme.visualstudio.com/Platform/_git/monorepo") == "https://acme.visualstudio.com/Platform");
  BOOST_TEST(AzureApiBase("https://acme.visualstudio.com/DefaultCollection/Platform/_git/monorepo") ==
             "https://acme.visualstudio.com/DefaultCollection/Platform");
  BOOST_TEST(AzureApiBase("https://acme.visualstudio.com/_git/monorepo") == "https://acme.visualstudio.com/monorepo");
  BOOST_TEST(AzureApiBase("git@ssh.dev.azure.com:v3/acme/Platform/monorepo") == "https://dev.azure.com/acme/Platform");
  BOOST_TEST(AzureApiBase("ssh://git@ssh.dev.azure.com/v3/acme/Platform/monorepo") == "https://dev.azure.com/acme/Platform");
  BOOST_TEST(AzureApiBase("acme@vs-ssh.visualstudio.com:v3/acme/Platform/monorepo") == "https://dev.azure.com/acme/Platform");
  BOOST_TEST(AzureApiBase("https://tfs.acme.example:8443/tfs/DefaultCollection/Platform/_git/monorepo") ==
             "https://tfs.acme.example:8443/tfs/DefaultCollection/Platform");
  BOOST_TEST(AzureApiBase("https://dev.azure.com/acme/Platform") == "https://dev.azure.com/acme/Platform");  // account URL
  BOOST_TEST(AzureApiBase("ssh://tfs.acme.example:22/tfs/DefaultCollection/Platform/_git/monorepo").empty());
}

BOOST_AUTO_TEST_SUITE_END()
