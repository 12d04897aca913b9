// The webhook endpoint's decisions, from the request bytes to what is queued and recorded:
// real provider payloads signed here with known secrets, a real config loaded from YAML, real
// token files and delivery records on disk. The trigger records which bindings were queued
// (the engine itself is exercised end to end in daemon tests).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "config/config_loader.h"
#include "tests/support/log_capture.h"
#include "tests/support/temp_dir.h"
#include "webhooks/webhook_service.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

std::string Fixture(const std::string& name) {
  return ReadFile(RequiredEnv("GITSYNCD_TEST_DATA") + "/fixtures/webhooks/" + name);
}

struct Endpoint {
  TempDir dir;
  std::shared_ptr<const Config> config;
  std::unique_ptr<DeliveryLog> log;
  std::unique_ptr<WebhookService> service;
  std::map<std::string, std::string> tokens;  // connector name -> token
  std::vector<std::string> triggered;
  std::map<std::string, VerifyPolicy> policies;

  // `connectors`: file name -> YAML. Every connector gets a token.
  void Load(const std::vector<std::pair<std::string, std::string>>& connectors) {
    WriteFile(dir / "etc/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\n");
    for (const auto& [name, yaml] : connectors) WriteFile(dir / ("etc/connectors.d/" + name), yaml);
    ConfigLoadResult loaded = LoadConfig(dir / "etc");
    std::string errors;
    for (const auto& e : loaded.errors) errors += e.ToString() + "\n";
    BOOST_REQUIRE_MESSAGE(loaded.ok(), errors);
    config = std::make_shared<const Config>(loaded.config);
    std::vector<std::string> ids;
    for (const auto& c : config->connectors) {
      ids.push_back(ConnectorId(c.name));
      auto t = WebhookTokens::Rotate(config->daemon, ids.back());
      BOOST_REQUIRE(t.ok());
      tokens[c.name] = *t;
    }
    Restart();
  }
  // A new service and delivery log over the same state, as after a daemon restart.
  void Restart() {
    service.reset();
    log.reset();
    log = std::make_unique<DeliveryLog>(dir / "state/webhooks/deliveries");
    std::vector<std::string> ids;
    for (const auto& c : config->connectors) ids.push_back(ConnectorId(c.name));
    service = std::make_unique<WebhookService>(
        config, policies, WebhookTokens::Load(config->daemon, ids), log.get(),
        [this](const std::string& b, const std::string&, const std::string&) {
          triggered.push_back(b);
          return true;
        });
  }
  std::string Url(const std::string& connector) const {
    return "/webhooks/" + ConnectorId(connector) + "/" + tokens.at(connector);
  }
  HttpResponse Post(const std::string& target, HeaderMap headers, const std::string& body) {
    HttpRequest r;
    r.method = "POST";
    r.target = target;
    if (!headers.count("content-type")) headers["content-type"] = "application/json";
    r.headers = std::move(headers);
    r.body = body;
    r.remote_address = "127.0.0.1";
    return service->Handle(r);
  }
  boost::json::object Body(const HttpResponse& r) { return boost::json::parse(r.body).as_object(); }
};

std::string Connector(const std::string& name, const std::string& provider, const std::string& url,
                      const std::string& branch, const std::string& local, const std::string& extra = "") {
  return "name: " + name + "\nprovider: " + provider + "\nurl: " + url + "\nbranch: " + branch +
         "\nauth:\n  username: bot\n  password: {env: NONE}\nwebhook:\n  enabled: true\n" + extra +
         "syncs:\n  - name: " + name + "-sync\n    local: " + local + "\n";
}

const std::string kSecret = "hook-secret-for-tests";

struct GitHubEndpoint : Endpoint {
  GitHubEndpoint() {
    policies["gh"] = {kSecret, false, {}};
    Load({{"gh.yaml", Connector("gh", "github", "https://github.com/binkkatal/sample_app.git", "master", dir / "srv/gh")}});
  }
  HeaderMap Signed(const std::string& body, const std::string& event = "push", const std::string& id = "d-1") {
    return {{"x-github-event", event}, {"x-github-delivery", id},
            {"x-hub-signature-256", "sha256=" + HmacHex(kSecret, body)}};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(github_endpoint, GitHubEndpoint)

BOOST_AUTO_TEST_CASE(signed_push_queues_the_matching_binding_and_is_recorded) {
  std::string body = Fixture("github-push.json");
  HttpResponse r = Post(Url("gh"), Signed(body), body);
  BOOST_TEST(r.status == 202, r.body);
  auto b = Body(r);
  BOOST_TEST(b.at("queued").as_array().size() == 1u);
  BOOST_TEST(b.at("queued").as_array()[0].as_string() == "gh-sync");
  BOOST_TEST(b.at("verified").as_string() == "hmac-sha256");
  BOOST_TEST(triggered == std::vector<std::string>{"gh-sync"});

  log->Flush();
  auto records = DeliveryLog::ReadFile(dir / "state/webhooks/deliveries/gh.json");
  BOOST_REQUIRE(records.ok());
  BOOST_REQUIRE(records->size() == 1u);
  const DeliveryRecord& rec = records->at(0);
  BOOST_TEST(rec.provider == "github");
  BOOST_TEST(rec.event == "push");
  BOOST_TEST(rec.delivery_id == "d-1");
  BOOST_TEST(rec.verdict == "queued");
  BOOST_TEST(rec.status == 202);
  BOOST_TEST(rec.queued == std::vector<std::string>{"gh-sync"});
}

BOOST_AUTO_TEST_CASE(redelivery_is_recognised_even_after_a_restart) {
  std::string body = Fixture("github-push.json");
  BOOST_TEST(Post(Url("gh"), Signed(body), body).status == 202);
  HttpResponse again = Post(Url("gh"), Signed(body), body);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(Body(again).at("duplicate").as_bool());
  Restart();
  BOOST_TEST(Post(Url("gh"), Signed(body), body).status == 200);
  BOOST_TEST(triggered.size() == 1u);
  BOOST_TEST(Post(Url("gh"), Signed(body, "push", "d-2"), body).status == 202);
  BOOST_TEST(triggered.size() == 2u);
}

// The record is written by the log's own thread within its batch window (10 ms), with no
// Flush and no clean shutdown: a daemon killed right after that still recognises the
// redelivery. The first log stays alive here, as a killed process would never have stopped it.
// The answer is written without a JSON document: whatever a sender puts in its delivery id
// comes back as valid, equal JSON.
BOOST_AUTO_TEST_CASE(answers_are_valid_json_whatever_the_delivery_id) {
  std::string body = Fixture("github-push.json");
  std::string id = "q\"b\\s/\x01\x1f\b\f\n\r\t\x7f\xc3\xa9";
  HttpResponse r = Post(Url("gh"), Signed(body, "push", id), body);
  BOOST_TEST(r.status == 202, r.body);
  BOOST_TEST(Body(r).at("delivery").as_string() == id);
  BOOST_TEST(r.body.back() == '\n');
  HttpResponse again = Post(Url("gh"), Signed(body, "push", id), body);
  BOOST_TEST(Body(again).at("duplicate").as_bool());
  std::string ping = Fixture("github-ping.json");
  BOOST_TEST(Body(Post(Url("gh"), Signed(ping, "ping", id + "p"), ping)).at("ping").as_string() == "ok");
}

BOOST_AUTO_TEST_CASE(redelivery_is_recognised_after_a_crash_once_the_batch_is_written) {
  std::string body = Fixture("github-push.json");
  auto start = std::chrono::steady_clock::now();
  BOOST_TEST(Post(Url("gh"), Signed(body, "push", "crash-1"), body).status == 202);
  std::string file = dir / "state/webhooks/deliveries/gh.json";
  bool written = false;
  while (!written && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    auto records = DeliveryLog::ReadFile(file);
    written = records.ok() && !records->empty() && records->back().delivery_id == "crash-1";
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  BOOST_REQUIRE(written);
  // Well within the documented window on an idle machine; generous for a loaded CI box.
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(1)));
  DeliveryLog after_crash(dir / "state/webhooks/deliveries");
  BOOST_TEST(!after_crash.Claim("gh", "crash-1"));
  BOOST_TEST(after_crash.Claim("gh", "crash-2"));
}

BOOST_AUTO_TEST_CASE(forged_missing_and_sha1_only_signatures_are_refused) {
  std::string body = Fixture("github-push.json");
  HeaderMap forged = Signed(body);
  forged["x-hub-signature-256"] = "sha256=" + HmacHex("not-the-secret", body);
  BOOST_TEST(Post(Url("gh"), forged, body).status == 401);
  HeaderMap missing = Signed(body);
  missing.erase("x-hub-signature-256");
  BOOST_TEST(Post(Url("gh"), missing, body).status == 401);
  HeaderMap sha1 = missing;
  sha1["x-hub-signature"] = "sha1=" + HmacHex(kSecret, body, true);
  HttpResponse r = Post(Url("gh"), sha1, body);
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.body.find("signed only with SHA-1") != std::string::npos, r.body);
  // A signature over other bytes (a body altered in transit).
  std::string altered = body;
  altered += "\n";  // still valid JSON, other bytes
  BOOST_TEST(Post(Url("gh"), Signed(body), altered).status == 401);
  BOOST_TEST(triggered.empty());
  log->Flush();
  auto records = DeliveryLog::ReadFile(dir / "state/webhooks/deliveries/gh.json");
  BOOST_REQUIRE(records.ok());
  BOOST_TEST(records->size() == 4u);
  for (const auto& rec : *records) BOOST_TEST(rec.verdict == "refused");
}

BOOST_AUTO_TEST_CASE(sha1_accepted_when_the_connector_allows_it) {
  policies["gh"].allow_sha1 = true;
  Restart();
  std::string body = Fixture("github-push.json");
  HeaderMap sha1{{"x-github-event", "push"}, {"x-github-delivery", "s1"},
                 {"x-hub-signature", "sha1=" + HmacHex(kSecret, body, true)}};
  BOOST_TEST(Post(Url("gh"), sha1, body).status == 202);
}

BOOST_AUTO_TEST_CASE(wrong_token_unknown_connector_and_wrong_method) {
  std::string body = Fixture("github-push.json");
  std::string bad = "/webhooks/gh/" + std::string(43, 'A');
  HttpResponse r = Post(bad, Signed(body), body);
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.body.find("not this connector's current one") != std::string::npos);
  BOOST_TEST(Post("/webhooks/gh/", Signed(body), body).status == 401);
  BOOST_TEST(Post("/webhooks/nope/" + tokens["gh"], Signed(body), body).status == 404);
  HttpRequest get;
  get.method = "GET";
  get.target = Url("gh");
  HttpResponse g = service->Handle(get);
  BOOST_TEST(g.status == 405);
  // A rotated token replaces the old one.
  std::string old = Url("gh");
  tokens["gh"] = *WebhookTokens::Rotate(config->daemon, "gh");
  Restart();
  BOOST_TEST(Post(old, Signed(body), body).status == 401);
  BOOST_TEST(Post(Url("gh"), Signed(body), body).status == 202);
  BOOST_TEST(triggered.size() == 1u);
}

// The listener asks before reading any body byte; a flood of wrong tokens is counted, logged
// once a minute, and never recorded, so it cannot push real deliveries out of `events`.
BOOST_AUTO_TEST_CASE(wrong_tokens_are_refused_from_the_headers_counted_and_never_recorded) {
  std::string body = Fixture("github-push.json");
  HttpRequest head;
  head.method = "POST";
  head.target = Url("gh");
  head.headers = Signed(body);
  head.remote_address = "192.0.2.7";
  HeaderVerdict good = service->CheckHeaders(head);
  BOOST_TEST(!good.answer);
  BOOST_TEST(good.trusted);
  BOOST_TEST(Post(Url("gh"), Signed(body, "push", "real-1"), body).status == 202);

  LogCapture capture;
  const std::string wrong = std::string(43, 'Q');
  head.target = "/webhooks/gh/" + wrong;
  for (int i = 0; i < 300; ++i) {
    HeaderVerdict v = service->CheckHeaders(head);
    BOOST_REQUIRE(v.answer);
    BOOST_TEST(v.answer->status == 401);
    BOOST_TEST(!v.trusted);
  }
  BOOST_TEST(Post("/webhooks/gh/" + wrong, Signed(body, "push", "forged-2"), body).status == 401);
  BOOST_TEST(service->counters().token_refusals.at("gh") == 301u);
  std::string log_text = capture.text();
  size_t lines = 0;
  for (size_t at = log_text.find("401 refused"); at != std::string::npos; at = log_text.find("401 refused", at + 1)) ++lines;
  BOOST_TEST(lines == 1u, log_text);
  BOOST_TEST(log_text.find("webhook gh from 192.0.2.7: 401 refused: the token in the webhook URL is not") !=
                 std::string::npos, log_text);
  BOOST_TEST(log_text.find(wrong) == std::string::npos);

  head.target = "/webhooks/nope/" + wrong;
  BOOST_TEST(service->CheckHeaders(head).answer->status == 404);
  head.target = Url("gh");
  head.method = "GET";
  BOOST_TEST(service->CheckHeaders(head).answer->status == 405);

  log->Flush();
  auto records = DeliveryLog::ReadFile(dir / "state/webhooks/deliveries/gh.json");
  BOOST_REQUIRE(records.ok());
  BOOST_REQUIRE(records->size() == 1u);
  BOOST_TEST(records->at(0).delivery_id == "real-1");
  BOOST_TEST(records->at(0).verdict == "queued");
}

BOOST_AUTO_TEST_CASE(wrong_provider_content_type_and_bad_bodies) {
  std::string body = Fixture("github-push.json");
  HttpResponse r = Post(Url("gh"), {{"x-gitlab-event", "Push Hook"}, {"x-gitlab-token", kSecret}}, body);
  BOOST_TEST(r.status == 400);
  BOOST_TEST(Body(r).at("error").as_string() == "delivery looks like gitlab but connector 'gh' is github");
  HeaderMap text = Signed(body);
  text["content-type"] = "text/plain";
  BOOST_TEST(Post(Url("gh"), text, body).status == 415);
  HeaderMap none = Signed(body);
  none["content-type"] = "";
  BOOST_TEST(Post(Url("gh"), none, body).status == 415);

  std::string truncated = body.substr(0, body.size() - 20);
  r = Post(Url("gh"), Signed(truncated), truncated);
  BOOST_TEST(r.status == 400);
  BOOST_TEST(r.body.find("malformed JSON") != std::string::npos);
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  BOOST_TEST(Post(Url("gh"), Signed(deep), deep).status == 400);
  std::string garbage = "\xff\xfe not json";
  BOOST_TEST(Post(Url("gh"), Signed(garbage), garbage).status == 400);
  BOOST_TEST(triggered.empty());
}

BOOST_AUTO_TEST_CASE(form_encoded_github_delivery) {
  std::string json = Fixture("github-push.json");
  std::string form = "payload=";
  for (unsigned char c : json) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", c);
    form += std::isalnum(c) ? std::string(1, static_cast<char>(c)) : std::string(hex);
  }
  HeaderMap h = Signed(form);
  h["content-type"] = "application/x-www-form-urlencoded";
  BOOST_TEST(Post(Url("gh"), h, form).status == 202);
  BOOST_TEST(triggered.size() == 1u);
}

BOOST_AUTO_TEST_CASE(ping_other_events_other_branches_and_deletions) {
  std::string ping = Fixture("github-ping.json");
  HttpResponse r = Post(Url("gh"), Signed(ping, "ping", "p-1"), ping);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(Body(r).at("ping").as_string() == "ok");

  std::string issue = "{\"action\": \"opened\"}";
  r = Post(Url("gh"), Signed(issue, "issues", "i-1"), issue);
  BOOST_TEST(r.status == 202);
  BOOST_TEST(Body(r).at("ignored").as_string() == "event 'issues' is not a push; nothing to sync");

  boost::json::object push = boost::json::parse(Fixture("github-push.json")).as_object();
  push["ref"] = "refs/heads/develop";
  std::string other = boost::json::serialize(push);
  r = Post(Url("gh"), Signed(other, "push", "o-1"), other);
  BOOST_TEST(r.status == 202);
  auto ignored = Body(r).at("ignored").as_array();
  BOOST_REQUIRE(ignored.size() == 1u);
  BOOST_TEST(ignored[0].at("reason").as_string() == "push moved refs/heads/develop, not branch 'master'");

  push["ref"] = "refs/heads/master";
  push["deleted"] = true;
  push["after"] = std::string(40, '0');
  std::string deleted = boost::json::serialize(push);
  r = Post(Url("gh"), Signed(deleted, "push", "x-1"), deleted);
  BOOST_TEST(r.status == 202);
  std::string reason(Body(r).at("ignored").as_array()[0].at("reason").as_string());
  BOOST_TEST(reason.find("branch 'master' was deleted on the remote; the local folder") == 0u, reason);
  BOOST_TEST(triggered.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(providers)

// One connector per provider, each receiving its provider's real payload with the provider's
// headers and signature scheme; each push must queue exactly its own binding.
BOOST_AUTO_TEST_CASE(every_provider_push_queues_its_binding) {
  Endpoint e;
  const std::string secret = "Gkvl$k$wyNpQAF42";
  for (const char* n : {"bbc", "bbs", "plugin", "gl", "az"}) e.policies[n] = {secret, false, {}};
  e.Load({
      {"bbc.yaml", Connector("bbc", "bitbucket-cloud", "https://bitbucket.org/nfalco79/test-repos.git", "feature/webhook",
                             e.dir / "srv/bbc")},
      {"bbs.yaml", Connector("bbs", "bitbucket-server", "https://bitbucket.example.com/scm/amuniz/test-repos.git", "main",
                             e.dir / "srv/bbs")},
      {"plugin.yaml", Connector("plugin", "bitbucket-server", "https://bb.example.com/scm/project_1/rep_1.git",
                                "test-webhook", e.dir / "srv/plugin")},
      {"gl.yaml", Connector("gl", "gitlab", "https://gitlab.com/mike/diaspora.git", "master", e.dir / "srv/gl")},
      {"az.yaml", Connector("az", "azure-repos", "https://dev.azure.com/fabrikam/Fabrikam-Fiber-Git/_git/Fabrikam-Fiber-Git",
                            "main", e.dir / "srv/az")},
  });
  struct Case {
    std::string connector, fixture;
    HeaderMap headers;
  };
  std::string bbc = Fixture("bitbucket-cloud-repo_push-signed.json");
  std::string bbs = Fixture("bitbucket-server-repo_refs_changed.json");
  std::string plugin = Fixture("bitbucket-postwebhooks-repo_push.json");
  std::vector<Case> cases = {
      {"bbc", "bitbucket-cloud-repo_push-signed.json",
       {{"x-event-key", "repo:push"}, {"x-request-uuid", "u-1"}, {"x-hook-uuid", "h-1"},
        {"x-hub-signature", "sha256=f205c729821c6954aff2afe72b965c34015b4baf96ea8ddc2cc44999c014a035"}}},
      {"bbs", "bitbucket-server-repo_refs_changed.json",
       {{"x-event-key", "repo:refs_changed"}, {"x-request-id", "r-1"}, {"x-hub-signature", "sha256=" + HmacHex(secret, bbs)}}},
      {"plugin", "bitbucket-postwebhooks-repo_push.json",
       {{"x-event-key", "repo:push"}, {"x-bitbucket-type", "server"}, {"x-hub-signature", "sha256=" + HmacHex(secret, plugin)}}},
      {"gl", "gitlab-push_hook-docs.json",
       {{"x-gitlab-event", "Push Hook"}, {"x-gitlab-token", secret}, {"idempotency-key", "g-1"}}},
      {"az", "azure-devops-git.push.json", {{"authorization", "Basic aG9vazpHa3ZsJGskd3lOcFFBRjQy"}}},  // hook:<secret>
  };
  for (const Case& c : cases) {
    e.triggered.clear();
    HttpResponse r = e.Post(e.Url(c.connector), c.headers, Fixture(c.fixture));
    BOOST_TEST(r.status == 202, c.connector << ": " << r.body);
    BOOST_TEST(e.triggered == std::vector<std::string>{c.connector + "-sync"}, c.connector);
    // The same payload at another provider's connector is refused as the wrong provider.
    std::string other = c.connector == "gl" ? "az" : "gl";
    e.triggered.clear();
    BOOST_TEST(e.Post(e.Url(other), c.headers, Fixture(c.fixture)).status >= 400, c.connector << " at " << other);
    BOOST_TEST(e.triggered.empty());
  }
  // Bitbucket Server's "Test connection" ping is unsigned and answered.
  HttpResponse ping = e.Post(e.Url("bbs"), {{"x-event-key", "diagnostics:ping"}, {"x-request-id", "p"}},
                             Fixture("bitbucket-server-diagnostics_ping.json"));
  BOOST_TEST(ping.status == 200, ping.body);
  // Unsigned pushes are refused for every provider with a secret.
  for (const Case& c : cases) {
    HeaderMap h = c.headers;
    h.erase("x-hub-signature");
    h.erase("x-gitlab-token");
    h.erase("authorization");
    BOOST_TEST(e.Post(e.Url(c.connector), h, Fixture(c.fixture)).status == 401, c.connector);
  }
}

BOOST_AUTO_TEST_CASE(account_connector_routes_by_repository) {
  Endpoint e;
  e.Load({{"org.yaml",
           "name: org\nprovider: github\nurl_type: account\nurl: https://github.com/binkkatal\nbranch: master\n"
           "auth:\n  username: bot\n  password: {env: NONE}\nwebhook:\n  enabled: true\n"
           "syncs:\n  - name: sample\n    repo: sample_app\n    local: " + (e.dir / "srv/a") +
               "\n  - name: other\n    repo: other_app\n    local: " + (e.dir / "srv/b") +
               "\n  - name: sample-dev\n    repo: sample_app\n    branch: dev\n    local: " + (e.dir / "srv/c") + "\n"}});
  std::string body = Fixture("github-push.json");
  HttpResponse r = e.Post(e.Url("org"), {{"x-github-event", "push"}, {"x-github-delivery", "a"}}, body);
  BOOST_TEST(r.status == 202, r.body);
  BOOST_TEST(e.triggered == std::vector<std::string>{"sample"});
  auto ignored = e.Body(r).at("ignored").as_array();
  BOOST_REQUIRE(ignored.size() == 2u);
  BOOST_TEST(ignored[0].at("binding").as_string() == "other");
  BOOST_TEST(std::string(ignored[0].at("reason").as_string()).find("repository 'binkkatal/sample_app' is not this binding's") == 0u);
  BOOST_TEST(ignored[1].at("reason").as_string() == "push moved refs/heads/master, not branch 'dev'");
}

BOOST_AUTO_TEST_SUITE_END()
