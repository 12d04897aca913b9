// Listing an account's repositories through each provider's API (for `gitsyncd import`),
// against tests/support/provider_api_server.py: every page is followed, nothing is missed.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "api/provider_api.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct ListFixture {
  TempDir dir;
  std::unique_ptr<ProviderApiServer> api;
  explicit ListFixture(const char* scopes = "repo, read:org") {
    std::map<std::string, std::string> repos;
    for (const char* n : {"acme/a1", "acme/a2", "acme/a3", "acme/a4", "acme/a5", "other/x"}) {
      std::string bare = dir / (std::string(n) + ".git");
      InitBareRepo(bare);
      repos[n] = bare;
    }
    api = std::make_unique<ProviderApiServer>("tok", repos, scopes);
    api->Control("{\"per_page_max\": 2}");
  }
  Result<std::vector<RemoteRepo>> List(Provider p, const std::string& base, const std::string& account) {
    ApiTarget t;
    t.provider = p;
    t.api_base = base;
    t.token = "tok";
    t.http.ca_file = api->ca_file();
    t.http.proxy_from_environment = false;
    auto reader = MakeProviderApi(t);
    if (!reader.ok()) return reader.status();
    return (*reader)->ListRepositories(account);
  }
  std::vector<std::string> Names(Provider p, const std::string& base, const std::string& account) {
    ApiTarget t;
    t.provider = p;
    t.api_base = base;
    t.token = "tok";
    t.http.ca_file = api->ca_file();
    t.http.proxy_from_environment = false;
    auto reader = MakeProviderApi(t);
    BOOST_REQUIRE(reader.ok());
    auto list = (*reader)->ListRepositories(account);
    BOOST_REQUIRE_MESSAGE(list.ok(), list.status().message());
    std::vector<std::string> out;
    for (const auto& r : *list) out.push_back(r.full_name);
    std::sort(out.begin(), out.end());
    return out;
  }
};

const std::vector<std::string> kAcme = {"acme/a1", "acme/a2", "acme/a3", "acme/a4", "acme/a5"};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(repo_list, ListFixture)

BOOST_AUTO_TEST_CASE(github_organization_over_three_pages) {
  BOOST_TEST(Names(Provider::kGitHub, api->api_url(), "acme") == kAcme);
}

BOOST_AUTO_TEST_CASE(gitlab_group_needs_read_api) {
  // This server's token reports GitHub-style scopes only.
  auto r = List(Provider::kGitLab, api->gitlab_api_url(), "acme");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message() ==
             "the API token lacks the 'read_api' scope needed to read the projects of acme (it has: repo, read:org)");
}

BOOST_AUTO_TEST_CASE(bitbucket_server_project_over_three_pages) {
  BOOST_TEST(Names(Provider::kBitbucketServer, api->bitbucket_server_url(), "ACME") ==
             (std::vector<std::string>{"ACME/a1", "ACME/a2", "ACME/a3", "ACME/a4", "ACME/a5"}));
}

BOOST_AUTO_TEST_CASE(bitbucket_cloud_workspace_over_three_pages) {
  BOOST_TEST(Names(Provider::kBitbucketCloud, api->bitbucket_cloud_url(), "acme") == kAcme);
}

BOOST_AUTO_TEST_CASE(azure_project) {
  auto names = Names(Provider::kAzureRepos, api->azure_api_url("acme", "platform"), "acme/platform");
  BOOST_TEST(names.size() == 6u);  // the test server puts every repository in the project
  BOOST_TEST(names.front() == "acme/platform/a1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(gitlab_group_over_three_pages) {
  ListFixture f("read_api, read_repository");
  BOOST_TEST(f.Names(Provider::kGitLab, f.api->gitlab_api_url(), "acme") == kAcme);
}

BOOST_AUTO_TEST_CASE(github_classic_tokens_with_write_or_admin_org_list_the_organization) {
  // "admin:org" and "write:org" include "read:org" (GitHub's scopes for OAuth apps).
  for (const char* scopes : {"repo, admin:org", "write:org, repo"}) {
    ListFixture f(scopes);
    BOOST_TEST(f.Names(Provider::kGitHub, f.api->api_url(), "acme") == kAcme, scopes);
  }
}

BOOST_AUTO_TEST_CASE(github_fine_grained_tokens_report_no_scopes_and_list_what_they_see) {
  ListFixture f(nullptr);
  BOOST_TEST(f.Names(Provider::kGitHub, f.api->api_url(), "acme") == kAcme);
}

BOOST_AUTO_TEST_CASE(github_classic_token_without_org_access_is_refused_naming_the_scope) {
  ListFixture f("repo, gist");
  auto r = f.List(Provider::kGitHub, f.api->api_url(), "acme");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message() ==
             "the API token needs the 'read:org' scope to list acme's repositories (it has: repo, gist)");
}
