// The commit status reporter when the provider does not simply say yes, against the provider
// API test server (and a port that refuses, and one that never answers): each failure is
// logged and counted in gitsyncd_commit_statuses_total{result=...}, none is fatal, a pass never
// waits for a post, a rate limit is waited out (nothing is posted before it resets) but never
// delays a stop, and a full queue drops its oldest reports, counted.
#include <netinet/in.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "config/config_loader.h"
#include "daemon/commit_status_reporter.h"
#include "daemon/metrics.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

struct Reporter {
  TempDir dir;
  std::string bare = dir / "site.git";
  ProviderApiServer api{"ghp-tok", {{"acme/site", bare}}};
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(200);
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  Config config;

  Reporter() {
    InitBareRepo(bare);
    ::setenv("GH_TOKEN", "ghp-tok", 1);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", log));
    Load(api.api_url());
  }
  ~Reporter() { spdlog::set_default_logger(previous); }
  void Load(const std::string& api_url) {
    WriteFile(dir / "etc/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api.ca_file() +
                                             "\nio_timeout: 1s\ninstance: t\n");
    WriteFile(dir / "etc/connectors.d/site.yaml",
              "name: Site\nprovider: github\nurl: https://github.acme.example/acme/site.git\n"
              "api:\n  token: {env: GH_TOKEN}\n  url: " + api_url +
                  "\nfetch: api\nreport_status: true\nsyncs:\n  - name: site\n    local: " + (dir / "srv") + "\n");
    ConfigLoadResult loaded = LoadConfig(dir / "etc");
    std::string errors;
    for (const auto& e : loaded.errors) errors += e.ToString() + "\n";
    BOOST_REQUIRE_MESSAGE(loaded.errors.empty(), errors);
    config = std::move(loaded.config);
  }
  static PassEvent Synced(const std::string& commit) {
    return PassEvent{"site", "Site", true, "pull", "pulled 1 file", BindingState{}, commit, "", ""};
  }
  json::array Posted(const std::string& commit = kCommit) {
    json::value v = json::parse(api.AdminState());
    const json::value* list = v.at("statuses").as_object().if_contains("github acme/site " + commit);
    return list ? list->as_array() : json::array{};
  }
  int64_t Requests(const char* kind) {
    json::value v = json::parse(api.Stats());
    const json::value* n = v.at("requests").as_object().if_contains(kind);
    return n ? n->as_int64() : 0;
  }
  std::string Logged() {
    std::string all;
    for (const auto& line : log->last_formatted()) all += line;
    return all;
  }
  // The metric line as /metrics shows it.
  static std::string Metric(const char* result) {
    std::string text = RenderMetrics({}, 0, WebhookCounters{});
    std::string prefix = std::string("gitsyncd_commit_statuses_total{result=\"") + result + "\"} ";
    size_t at = text.find(prefix);
    return at == std::string::npos ? "" : text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size());
  }
  static uint64_t Failed() { return CommitStatusCounts().failed; }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(commit_status_reporter, Reporter)

BOOST_AUTO_TEST_CASE(a_5xx_answer_is_logged_and_counted_as_failed_and_the_next_status_is_posted) {
  api.Control(R"({"fail_5xx": 1})");
  uint64_t failed = Failed(), posted = CommitStatusCounts().posted;
  CommitStatusReporter reporter(config, nullptr);
  reporter.OnPass(Synced(kCommit));
  BOOST_REQUIRE(WaitFor([&] { return Failed() == failed + 1; }, 10s));
  BOOST_TEST(Logged().find("commit status on 0123456789ab not posted: ") != std::string::npos, Logged());
  BOOST_TEST(Logged().find("HTTP 502") != std::string::npos, Logged());
  BOOST_TEST(Metric("failed") == std::to_string(failed + 1));
  BOOST_TEST(Posted().empty());
  // Not fatal: the reporter goes on with the next pass.
  reporter.OnPass(Synced(std::string(40, 'b')));
  BOOST_TEST(WaitFor([&] { return !Posted(std::string(40, 'b')).empty(); }, 10s));
  BOOST_TEST(CommitStatusCounts().posted == posted + 1);
}

BOOST_AUTO_TEST_CASE(a_token_that_may_not_post_statuses_is_logged_naming_the_permission) {
  api.Control(R"({"token": {"may_not": ["statuses"]}})");
  uint64_t failed = Failed();
  CommitStatusReporter reporter(config, nullptr);
  reporter.OnPass(Synced(kCommit));
  BOOST_REQUIRE(WaitFor([&] { return Failed() == failed + 1; }, 10s));
  BOOST_TEST(Logged().find("HTTP 403") != std::string::npos, Logged());
  BOOST_TEST(Logged().find("it needs the 'repo:status' scope (classic token) or the repository permission "
                           "'Commit statuses: Read and write'") != std::string::npos,
             Logged());
  BOOST_TEST(Logged().find("ghp-tok") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_rate_limited_post_waits_for_the_reset_then_posts) {
  // 429 with Retry-After as an HTTP-date 2 s ahead (whole seconds: at least 1 s from now).
  api.Control(R"({"retry_after_date": 1})");
  uint64_t failed = Failed();
  CommitStatusReporter reporter(config, nullptr);
  reporter.OnPass(Synced(kCommit));
  BOOST_REQUIRE(WaitFor([&] { return Requests("rate_limited") == 1; }, 10s));
  auto limited = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(Posted().empty());  // not before the reset
  BOOST_TEST(Requests("status_post") == 0);
  BOOST_REQUIRE(WaitFor([&] { return !Posted().empty(); }, 10s));
  BOOST_TEST((std::chrono::steady_clock::now() - limited >= 900ms));
  BOOST_TEST(Failed() == failed);
}

BOOST_AUTO_TEST_CASE(stopping_while_a_post_waits_out_a_rate_limit_drops_it_at_once) {
  // 429 asking for 100 s, within the 2 minutes a post may wait.
  api.Control(R"({"rate_limit": 1, "retry_after": 100})");
  uint64_t failed = Failed(), dropped = CommitStatusCounts().dropped;
  auto reporter = std::make_unique<CommitStatusReporter>(config, nullptr);
  reporter->OnPass(Synced(kCommit));
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Logged().find("waiting 100.0 s") != std::string::npos; }, 10s), Logged());
  auto stop = std::chrono::steady_clock::now();
  reporter.reset();
  BOOST_TEST((std::chrono::steady_clock::now() - stop < 5s));
  BOOST_TEST(Requests("status_post") == 0);
  BOOST_TEST(Posted().empty());
  // Not the provider's failure: dropped, as the queued ones are at a stop.
  BOOST_TEST(CommitStatusCounts().dropped == dropped + 1);
  BOOST_TEST(Failed() == failed);
  BOOST_TEST(Logged().find("commit status on 0123456789ab not posted: gitsyncd is stopping") != std::string::npos,
             Logged());
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_counted_as_failed_not_fatal) {
  Load("https://127.0.0.1:" + std::to_string(FreePort()) + "/api/v3");
  uint64_t failed = Failed();
  CommitStatusReporter reporter(config, nullptr);
  reporter.OnPass(Synced(kCommit));
  BOOST_REQUIRE(WaitFor([&] { return Failed() == failed + 1; }, 10s));
  BOOST_TEST(Logged().find("not posted: ") != std::string::npos, Logged());
}

BOOST_AUTO_TEST_CASE(a_provider_that_stalls_fails_the_post_after_io_timeout_and_passes_never_wait) {
  LoopbackListener stalled;
  Load("https://127.0.0.1:" + std::to_string(stalled.port()) + "/api/v3");
  uint64_t failed = Failed();
  CommitStatusReporter reporter(config, nullptr);
  reporter.OnPass(Synced(kCommit));
  // While the first post hangs, further passes only queue theirs.
  for (int i = 0; i < 5; ++i) reporter.OnPass(Synced(std::string(39, 'c') + std::to_string(i)));
  BOOST_TEST(Failed() == failed);
  BOOST_REQUIRE(WaitFor([&] { return Failed() >= failed + 1; }, 20s));
  BOOST_TEST(Logged().find("not posted: ") != std::string::npos, Logged());
}

BOOST_AUTO_TEST_CASE(a_full_queue_drops_the_oldest_reports_and_counts_them) {
  LoopbackListener stalled;
  Load("https://127.0.0.1:" + std::to_string(stalled.port()) + "/api/v3");
  uint64_t dropped = CommitStatusCounts().dropped;
  {
    CommitStatusReporter reporter(config, nullptr);
    // One post in flight (stalled) and 1,000 queued; each further report drops the oldest.
    for (int i = 0; i < 1010; ++i) {
      char commit[41];
      std::snprintf(commit, sizeof commit, "%040d", i);
      reporter.OnPass(Synced(commit));
    }
    BOOST_TEST(CommitStatusCounts().dropped >= dropped + 9);
    BOOST_TEST(Metric("dropped") == std::to_string(CommitStatusCounts().dropped));
  }
}

BOOST_AUTO_TEST_SUITE_END()
