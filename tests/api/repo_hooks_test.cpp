// Managing a repository's gitsyncd webhook and posting commit statuses through each
// provider's API, against tests/support/provider_api_server.py (provider_admin.py): the hook
// the provider ends up holding, what is left alone, and the message a token without the
// right gets.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <set>

#include "api/webhook_registry.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace json = boost::json;

namespace {

const std::string kPrefix = "https://hooks.example.com/webhooks/team-a/";
const std::string kUrl = kPrefix + "tok1";

struct Case {
  Provider provider;
  std::string key;   // provider_admin.py's name for it
  std::string repo;  // the repository as the provider names it
};

struct HooksFixture {
  TempDir dir;
  std::unique_ptr<ProviderApiServer> api;
  HooksFixture() {
    std::map<std::string, std::string> repos;
    for (const char* n : {"acme/site", "ACME/site"}) {
      std::string bare = dir / (std::string(n) + ".git");
      InitBareRepo(bare);
      repos[n] = bare;
    }
    api = std::make_unique<ProviderApiServer>("tok", repos);
  }
  ApiTarget Target(Provider p) {
    ApiTarget t;
    t.provider = p;
    t.token = "tok";
    t.http.ca_file = api->ca_file();
    t.http.proxy_from_environment = false;
    switch (p) {
      case Provider::kGitHub:
        t.api_base = api->api_url();
        t.repo = "acme/site";
        t.remote_url = "https://github.example.com/acme/site.git";
        break;
      case Provider::kGitLab:
        t.api_base = api->gitlab_api_url();
        t.repo = "acme/site";
        break;
      case Provider::kBitbucketCloud:
        t.api_base = api->bitbucket_cloud_url();
        t.repo = "acme/site";
        t.remote_url = "https://bitbucket.org/acme/site.git";
        break;
      case Provider::kBitbucketServer:
        t.api_base = api->bitbucket_server_url();
        t.repo = "scm/ACME/site";
        t.remote_url = "https://bitbucket.example.com/scm/ACME/site.git";
        break;
      default:
        t.api_base = api->azure_api_url("org", "proj");
        t.repo = "org/proj/_git/site";
        break;
    }
    return t;
  }
  std::unique_ptr<RepoHooks> Hooks(Provider p) {
    auto h = MakeRepoHooks(Target(p));
    BOOST_REQUIRE_MESSAGE(h.ok(), h.status().message());
    return std::move(h).value();
  }
  // The hooks the provider holds for the repository, secrets included.
  json::array Stored(const std::string& key) {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("hooks").as_object().if_contains(key);
    return list ? list->as_array() : json::array{};
  }
  // The statuses posted on `sha` in any repository of the provider `key` names ("azure ...").
  json::array Statuses(const std::string& provider_key, const std::string& sha) {
    json::value v = json::parse(api->AdminState());
    json::array out;
    for (const auto& [k, list] : v.at("statuses").as_object()) {
      std::string key(k);
      if (key.rfind(provider_key + " ", 0) == 0 && key.size() > sha.size() &&
          key.compare(key.size() - sha.size(), sha.size(), sha) == 0) {
        for (const auto& s : list.as_array()) out.push_back(s);
      }
    }
    return out;
  }
};

const std::vector<Case> kCases = {
    {Provider::kGitHub, "github acme/site", "acme/site"},
    {Provider::kGitLab, "gitlab acme/site", "acme/site"},
    {Provider::kBitbucketCloud, "bitbucket_cloud acme/site", "acme/site"},
    {Provider::kBitbucketServer, "bitbucket_server ACME/site", "ACME/site"},
    {Provider::kAzureRepos, "azure org", "site"},
};

// The stored hook's URL and secret, whatever the provider calls them.
std::pair<std::string, std::string> UrlAndSecret(Provider p, const json::value& h) {
  auto s = [](const json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : std::string(); };
  const json::object& o = h.as_object();
  switch (p) {
    case Provider::kGitHub:
      return {s(o.at("config").as_object().if_contains("url")), s(o.at("config").as_object().if_contains("secret"))};
    case Provider::kGitLab:
      return {s(o.if_contains("url")), s(o.if_contains("token"))};
    case Provider::kAzureRepos:
      return {s(o.at("consumerInputs").as_object().if_contains("url")),
              s(o.at("consumerInputs").as_object().if_contains("basicAuthPassword"))};
    default:
      return {s(o.if_contains("url")), s(o.if_contains("secret"))};
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(repo_hooks, HooksFixture)

BOOST_AUTO_TEST_CASE(register_creates_one_push_hook_then_leaves_it_alone) {
  for (const auto& c : kCases) {
    BOOST_TEST_CONTEXT(c.key) {
      auto hooks = Hooks(c.provider);
      auto first = EnsureHook(*hooks, {kUrl, "s3cret"}, kPrefix, false, false);
      BOOST_REQUIRE_MESSAGE(first.ok(), first.status().message());
      BOOST_TEST(first->created == 1);
      json::array stored = Stored(c.key);
      BOOST_REQUIRE(stored.size() == 1u);
      BOOST_TEST(UrlAndSecret(c.provider, stored[0]).first == kUrl);
      BOOST_TEST(UrlAndSecret(c.provider, stored[0]).second == "s3cret");
      auto again = EnsureHook(*hooks, {kUrl, "s3cret"}, kPrefix, false, false);
      BOOST_REQUIRE_MESSAGE(again.ok(), again.status().message());
      BOOST_TEST(again->kept == 1);
      BOOST_TEST(again->created + again->updated + again->removed == 0);
      BOOST_TEST(Stored(c.key).size() == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(rotated_token_updates_the_hook_and_duplicates_go_others_stay) {
  for (const auto& c : kCases) {
    BOOST_TEST_CONTEXT(c.key) {
      auto hooks = Hooks(c.provider);
      // Someone else's hook, and two of ours made with an older token.
      BOOST_REQUIRE(hooks->CreateHook({"https://ci.example.com/hook", "theirs"}).ok());
      BOOST_REQUIRE(hooks->CreateHook({kPrefix + "old", "s3cret"}).ok());
      BOOST_REQUIRE(hooks->CreateHook({kPrefix + "old", "s3cret"}).ok());
      auto r = EnsureHook(*hooks, {kUrl, "new-secret"}, kPrefix, false, false);
      BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
      BOOST_TEST(r->updated == 1);
      BOOST_TEST(r->removed == 1);
      json::array stored = Stored(c.key);
      BOOST_REQUIRE(stored.size() == 2u);
      std::set<std::string> urls;
      for (const auto& h : stored) urls.insert(UrlAndSecret(c.provider, h).first);
      BOOST_TEST((urls == std::set<std::string>{"https://ci.example.com/hook", kUrl}));
      for (const auto& h : stored) {
        if (UrlAndSecret(c.provider, h).first == kUrl) BOOST_TEST(UrlAndSecret(c.provider, h).second == "new-secret");
      }
      // Unregistering removes ours only.
      auto gone = RemoveHooks(*hooks, kPrefix, false);
      BOOST_REQUIRE_MESSAGE(gone.ok(), gone.status().message());
      BOOST_TEST(gone->removed == 1);
      BOOST_REQUIRE(Stored(c.key).size() == 1u);
      BOOST_TEST(UrlAndSecret(c.provider, Stored(c.key)[0]).first == "https://ci.example.com/hook");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_changed_secret_rewrites_a_matching_hook_and_dry_run_changes_nothing) {
  auto hooks = Hooks(Provider::kGitHub);
  BOOST_REQUIRE(EnsureHook(*hooks, {kUrl, "one"}, kPrefix, false, false).ok());
  auto dry = EnsureHook(*hooks, {kUrl, "two"}, kPrefix, true, true);
  BOOST_REQUIRE(dry.ok());
  BOOST_TEST(dry->updated == 1);
  BOOST_TEST(UrlAndSecret(Provider::kGitHub, Stored("github acme/site")[0]).second == "one");
  BOOST_REQUIRE(EnsureHook(*hooks, {kUrl, "two"}, kPrefix, true, false).ok());
  BOOST_TEST(UrlAndSecret(Provider::kGitHub, Stored("github acme/site")[0]).second == "two");
}

BOOST_AUTO_TEST_CASE(a_hook_with_more_events_is_corrected) {
  auto hooks = Hooks(Provider::kGitLab);
  BOOST_REQUIRE(EnsureHook(*hooks, {kUrl, "s"}, kPrefix, false, false).ok());
  api->Control("{}");
  // Someone ticks "merge request events" in the UI.
  auto listed = hooks->ListHooks();
  BOOST_REQUIRE(listed.ok());
  ApiTarget t = Target(Provider::kGitLab);
  HttpsClient client(t.http);
  auto res = client.Send("PUT", t.api_base + "/projects/acme%2Fsite/hooks/" + (*listed)[0].id,
                         {{"PRIVATE-TOKEN", "tok"}, {"Content-Type", "application/json"}},
                         "{\"merge_requests_events\": true}");
  BOOST_REQUIRE(res.ok() && res->status == 200);
  auto r = EnsureHook(*hooks, {kUrl, "s"}, kPrefix, false, false);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->updated == 1);
  BOOST_TEST(r->actions.at(0).find("merge_requests_events on") != std::string::npos);
  BOOST_TEST(Stored("gitlab acme/site")[0].at("merge_requests_events").as_bool() == false);
}

BOOST_AUTO_TEST_CASE(a_token_that_may_not_manage_hooks_is_told_the_permission) {
  api->Control(R"({"token": {"may_not": ["hooks", "statuses"]}})");
  const std::map<Provider, std::pair<std::string, std::string>> needs = {
      {Provider::kGitHub, {"'admin:repo_hook' scope", "'repo:status' scope"}},
      {Provider::kGitLab, {"Maintainer role", "Developer role"}},
      {Provider::kBitbucketCloud, {"'webhook' scope", "'repository:write' scope"}},
      {Provider::kBitbucketServer, {"REPO_ADMIN", "REPO_READ"}},
      {Provider::kAzureRepos, {"vso.hooks_write", "vso.code_status"}},
  };
  for (const auto& c : kCases) {
    BOOST_TEST_CONTEXT(c.key) {
      auto hooks = Hooks(c.provider);
      auto r = EnsureHook(*hooks, {kUrl, "s"}, kPrefix, false, false);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied));
      BOOST_TEST(r.status().message().find(needs.at(c.provider).first) != std::string::npos, r.status().message());
      Status s = hooks->PostCommitStatus({std::string(40, 'a'), "gitsyncd/host/site", CommitState::kSuccess, "synced",
                                          "https://status.example.com/"});
      BOOST_REQUIRE(!s.ok());
      BOOST_TEST(s.message().find(needs.at(c.provider).second) != std::string::npos, s.message());
    }
  }
}

BOOST_AUTO_TEST_CASE(statuses_are_posted_in_each_providers_words) {
  const std::string sha(40, 'b');
  const std::map<Provider, std::pair<std::string, std::string>> state_field = {
      {Provider::kGitHub, {"state", "failure"}},          {Provider::kGitLab, {"state", "failed"}},
      {Provider::kBitbucketCloud, {"state", "FAILED"}},   {Provider::kBitbucketServer, {"state", "FAILED"}},
      {Provider::kAzureRepos, {"state", "failed"}},
  };
  for (const auto& c : kCases) {
    BOOST_TEST_CONTEXT(c.key) {
      auto hooks = Hooks(c.provider);
      Status s = hooks->PostCommitStatus(
          {sha, "gitsyncd/host1/site-docs", CommitState::kFailure, "YAML invalid: a.yaml:3", "https://ops.example.com/"});
      BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
      json::array posted = Statuses(c.key.substr(0, c.key.find(' ')), sha);
      BOOST_REQUIRE(posted.size() == 1u);
      const json::object& o = posted[0].as_object();
      BOOST_TEST(json::value_to<std::string>(o.at(state_field.at(c.provider).first)) == state_field.at(c.provider).second);
      BOOST_TEST(json::value_to<std::string>(o.at("description")) == "YAML invalid: a.yaml:3");
    }
  }
}

BOOST_AUTO_TEST_CASE(github_reports_the_last_delivery) {
  auto hooks = Hooks(Provider::kGitHub);
  BOOST_REQUIRE(EnsureHook(*hooks, {kUrl, "s"}, kPrefix, false, false).ok());
  auto listed = hooks->ListHooks();
  BOOST_REQUIRE(listed.ok() && listed->size() == 1u);
  std::string id = (*listed)[0].id;
  auto none = hooks->LastDelivery(id);
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(none->reported);
  BOOST_TEST(!none->any);
  api->Control(R"({"deliveries": {")" + id +
               R"(": [{"id": 9, "guid": "g", "delivered_at": "2026-11-30T03:00:00Z", "redelivery": false,
                 "duration": 0.03, "status": "failed to connect", "status_code": 502, "event": "push", "action": null}]}})");
  auto last = hooks->LastDelivery(id);
  BOOST_REQUIRE(last.ok());
  BOOST_TEST(last->any);
  BOOST_TEST(last->status_code == 502);
  BOOST_TEST(last->status == "failed to connect");
  BOOST_TEST(last->when == "2026-11-30T03:00:00Z");
}

BOOST_AUTO_TEST_SUITE_END()
