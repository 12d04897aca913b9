// The real services' limits, played by tests/support/provider_api_server.py as each provider
// documents them (cited there): GitHub's primary and secondary rate limits (403 without
// `remaining: 0`, Retry-After as an HTTP-date, no hint at all), its content-creation limit
// (80 a minute, 500 an hour, enforced by the server with scaled windows) against a 500-file
// write-back, folders in a parent of more than 1,000 entries, Bitbucket Cloud's LFS redirects
// (the storage refuses our token), Azure DevOps Server's older API version and delays,
// GitLab's and Bitbucket's 429s, and Bitbucket Server's collapsed directories. What the user
// sees: the pass succeeds with the right files, or fails naming the rate limit and until
// when, never as a permission problem; waits show in the metrics' totals.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "api/provider_api.h"
#include "api/rate_limit.h"
#include "tests/sync/api_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

uint64_t Waits(const std::string& reason) {
  auto totals = RateLimitTotalsByReason();
  auto it = totals.find(reason);
  return it == totals.end() ? 0 : it->second.waits;
}
uint64_t Refused(const std::string& reason) {
  auto totals = RateLimitTotalsByReason();
  auto it = totals.find(reason);
  return it == totals.end() ? 0 : it->second.refused;
}

std::string RemoteFile(ApiFixture& f, const std::string& path, bool* found = nullptr) {
  return ShowFile(f.bare, "main", "configs/app/" + path, found);
}

// A failed pass whose message names the rate limit, and never a missing permission.
void ExpectRateLimitFailure(ApiFixture& f, const std::string& needle) {
  auto r = f.Sync();
  BOOST_REQUIRE(!r.ok());
  const std::string& m = r.status().message();
  BOOST_TEST(m.find("rate limited by") != std::string::npos, m);
  BOOST_TEST(m.find(needle) != std::string::npos, m);
  BOOST_TEST(m.find("until") != std::string::npos, m);
  BOOST_TEST(m.find("may not") == std::string::npos, m);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(api_limits_github, ApiFixture)

BOOST_AUTO_TEST_CASE(a_secondary_limit_403_is_waited_out_not_reported_as_a_permission_problem) {
  uint64_t before = Waits("secondary");
  api->Control("{\"secondary_limit\": 1}");
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("rate_limited") == 1);
  BOOST_TEST(Waits("secondary") == before + 1);
}

BOOST_AUTO_TEST_CASE(retry_after_as_an_http_date_is_waited_out) {
  uint64_t before = Waits("secondary") + Waits("primary");
  api->Control("{\"retry_after_date\": 1}");
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("rate_limited") == 1);
  BOOST_TEST(Waits("secondary") + Waits("primary") == before + 1);
}

BOOST_AUTO_TEST_CASE(a_secondary_limit_without_a_hint_waits_a_minute_or_stops_the_pass_saying_so) {
  // GitHub: with no retry-after, "wait for at least one minute"; a pass may wait 5 s here.
  spec.api->max_rate_limit_wait = std::chrono::seconds(5);
  uint64_t before = Refused("secondary");
  api->Control("{\"secondary_limit_no_hint\": 1}");
  ExpectRateLimitFailure(*this, "secondary limit");
  BOOST_TEST(Refused("secondary") == before + 1);
  BOOST_TEST(!FileExists(spec.local + "/a.yaml"));
  MustSync();  // the limit has passed: the next pass brings the folder
  ExpectExactlyTheSeededFolder();
}

BOOST_AUTO_TEST_CASE(a_primary_limit_longer_than_allowed_stops_the_pass_naming_until_when) {
  spec.api->max_rate_limit_wait = std::chrono::seconds(0);
  api->Control("{\"rate_limit_403\": 1}");
  ExpectRateLimitFailure(*this, "primary limit");
}

BOOST_AUTO_TEST_CASE(a_folder_in_a_parent_of_more_than_1000_entries_is_found) {
  // The contents API lists only the first 1,000 entries of configs/; "zz" sorts after them.
  for (int i = 0; i < 1005; ++i) person->Write("configs/f" + std::to_string(10000 + i) + ".txt", "x\n");
  person->Write("configs/zz/x.yaml", "x: 1\n");
  BOOST_REQUIRE(person->CommitAndPush("many"));
  spec.path = "configs/zz";
  MustSync();
  BOOST_TEST(Local("x.yaml") == "x: 1\n");
}

BOOST_AUTO_TEST_CASE(a_500_file_write_back_stays_below_the_content_creation_limits) {
  // The server enforces GitHub's 80 a minute and 500 an hour, with windows scaled to 1/100
  // (0.6 s and 36 s); the client paces by the same policy at the same scale.
  api->Control("{\"content_limit\": {\"per_minute\": 80, \"per_hour\": 500, \"scale\": 0.01}}");
  spec.api->content_writes = ContentWriteLimit{80, 500, 0.01};
  spec.direction = SyncDirection::kBidirectional;
  MustSync();
  for (int i = 0; i < 500; ++i) WriteFile(spec.local + "/many/f" + std::to_string(i) + ".yaml", "n: " + std::to_string(i) + "\n");
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Count("secondary_limited") == 0);
  BOOST_TEST(Count("write_blob") == 0);  // text files travel inside the tree requests
  BOOST_TEST(RemoteFile(*this, "many/f0.yaml") == "n: 0\n");
  BOOST_TEST(RemoteFile(*this, "many/f499.yaml") == "n: 499\n");
  std::string tree = Git({"--git-dir", bare, "ls-tree", "-r", "--name-only", "main", "configs/app/many"}).out;
  BOOST_TEST(std::count(tree.begin(), tree.end(), '\n') == 500);
}

BOOST_AUTO_TEST_CASE(binary_files_are_created_as_blobs_paced_below_the_limit) {
  // 5 a "minute" of 0.3 s: 12 blobs and the tree, commit and ref need pacing waits.
  api->Control("{\"content_limit\": {\"per_minute\": 5, \"per_hour\": 500, \"scale\": 0.005}}");
  spec.api->content_writes = ContentWriteLimit{5, 500, 0.005};
  spec.direction = SyncDirection::kBidirectional;
  MustSync();
  uint64_t paced = Waits("pacing");
  for (int i = 0; i < 12; ++i) {
    WriteFile(spec.local + "/bin/b" + std::to_string(i) + ".dat", std::string("\x00\xff\x01", 3) + std::to_string(i));
  }
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Count("secondary_limited") == 0);
  BOOST_TEST(Count("write_blob") == 12);
  BOOST_TEST(Waits("pacing") > paced);
  BOOST_TEST(RemoteFile(*this, "bin/b11.dat") == std::string("\x00\xff\x01", 3) + "11");
}

BOOST_AUTO_TEST_CASE(unpaced_writes_meet_the_servers_secondary_limit) {
  // The server's limit is real: without pacing, the same write-back is refused and the pass
  // stops naming the secondary limit (and nothing lands on the branch).
  api->Control("{\"content_limit\": {\"per_minute\": 5, \"per_hour\": 500, \"scale\": 1}}");
  spec.api->content_writes = ContentWriteLimit{0, 0, 1.0};
  spec.api->max_rate_limit_wait = std::chrono::seconds(1);
  spec.direction = SyncDirection::kBidirectional;
  MustSync();
  std::string before = Git({"--git-dir", bare, "rev-parse", "main"}).out;
  for (int i = 0; i < 12; ++i) WriteFile(spec.local + "/bin/b" + std::to_string(i) + ".dat", std::string("\x00", 1));
  ExpectRateLimitFailure(*this, "secondary limit");
  BOOST_TEST(Count("secondary_limited") == 1);
  BOOST_TEST(Git({"--git-dir", bare, "rev-parse", "main"}).out == before);
}

BOOST_AUTO_TEST_SUITE_END()

struct ClassicTokenWithAdminOrg : ApiFixture {
  ClassicTokenWithAdminOrg() : ApiFixture(Provider::kGitHub, "admin:org, repo") {}
};
struct ClassicTokenWithoutRepo : ApiFixture {
  ClassicTokenWithoutRepo() : ApiFixture(Provider::kGitHub, "read:org, gist") {}
};

BOOST_AUTO_TEST_SUITE(api_limits_github_scopes)

BOOST_FIXTURE_TEST_CASE(a_classic_token_with_repo_and_admin_org_reads, ClassicTokenWithAdminOrg) {
  auto reader = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(reader.ok());
  auto access = (*reader)->CheckAccess();
  BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
  BOOST_TEST(access->scopes == "admin:org, repo");
  MustSync();
  ExpectExactlyTheSeededFolder();
}

BOOST_FIXTURE_TEST_CASE(a_classic_token_without_repo_is_refused_naming_the_scope, ClassicTokenWithoutRepo) {
  auto reader = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(reader.ok());
  auto access = (*reader)->CheckAccess();
  BOOST_REQUIRE(!access.ok());
  BOOST_TEST(access.status().message() ==
             "the API token lacks the 'repo' scope needed to read acme/monorepo (it has: read:org, gist)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_limits_bitbucket_cloud, On<Provider::kBitbucketCloud>)

BOOST_AUTO_TEST_CASE(an_lfs_file_comes_through_its_redirect_without_our_token) {
  api->Control("{\"lfs\": [\"configs/app/a.yaml\"]}");
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("lfs_redirect") == 1);
  BOOST_TEST(Count("lfs_storage") == 1);
  BOOST_TEST(Count("lfs_credentials_leaked") == 0);
}

BOOST_AUTO_TEST_CASE(a_redirect_to_http_is_refused) {
  api->Control("{\"lfs\": [\"configs/app/a.yaml\"], \"lfs_redirect\": \"http\"}");
  ExpectFailure("redirected to a non-https URL");
  BOOST_TEST(Count("lfs_storage") == 0);
  BOOST_TEST(!FileExists(spec.local + "/a.yaml"));
}

BOOST_AUTO_TEST_CASE(endless_redirects_stop_after_five) {
  api->Control("{\"lfs\": [\"configs/app/a.yaml\"], \"lfs_redirect\": \"loop\"}");
  ExpectFailure("more than 5 redirects");
  BOOST_TEST(Count("lfs_redirect") == 6);
}

BOOST_AUTO_TEST_CASE(a_429_without_a_hint_stops_the_pass_as_a_rate_limit) {
  spec.api->max_rate_limit_wait = std::chrono::seconds(2);
  api->Control("{\"rate_limit\": 1}");
  ExpectRateLimitFailure(*this, "HTTP 429");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_limits_gitlab, On<Provider::kGitLab>)

BOOST_AUTO_TEST_CASE(an_edit_names_the_files_own_last_commit_so_every_gitlab_version_accepts_it) {
  // Older GitLab compares last_commit_id with the branch's last commit for the path exactly;
  // the parent (a later commit touching only another file) would be refused there.
  api->Control("{\"gitlab_strict_last_commit\": true}");
  person->Write("other/outside.txt", "moved on\n");
  BOOST_REQUIRE(person->CommitAndPush("elsewhere"));
  spec.direction = SyncDirection::kBidirectional;
  MustSync();
  WriteFile(spec.local + "/a.yaml", "a: local\n");
  MustSync();
  BOOST_TEST(RemoteFile(*this, "a.yaml") == "a: local\n");
  BOOST_TEST(Count("write_rejected") == 0);
}

BOOST_AUTO_TEST_CASE(a_429_with_ratelimit_headers_is_waited_out) {
  uint64_t before = Waits("primary");
  api->Control("{\"rate_limit\": 1}");
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("rate_limited") == 1);
  BOOST_TEST(Waits("primary") == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_limits_azure, On<Provider::kAzureRepos>)

BOOST_AUTO_TEST_CASE(a_server_serving_an_older_api_version_is_served_its_latest) {
  api->Control("{\"azure_max_version\": \"7.0\"}");  // Azure DevOps Server 2022
  MustSync();
  ExpectExactlyTheSeededFolder(/*symlinks_reported=*/true);
  BOOST_TEST(Count("version_refused") == 1);  // once, then 7.0 from there on
}

BOOST_AUTO_TEST_CASE(an_api_version_set_by_hand_is_kept_and_the_servers_refusal_shown) {
  api->Control("{\"azure_max_version\": \"6.0\"}");  // Azure DevOps Server 2020
  spec.api->api_version = "7.0";
  ExpectFailure("The requested REST API version of 7.0 is out of range for this server");
  spec.api->api_version = "6.0";
  MustSync();
}

BOOST_AUTO_TEST_CASE(a_delay_asked_on_a_success_is_honoured) {
  uint64_t before = Waits("throttled");
  api->Control("{\"azure_delay\": 1}");
  MustSync();
  BOOST_TEST(Count("azure_delayed") == 1);
  BOOST_TEST(Waits("throttled") == before + 1);
}

BOOST_AUTO_TEST_CASE(a_429_is_waited_out) {
  api->Control("{\"rate_limit\": 1}");
  MustSync();
  BOOST_TEST(Count("rate_limited") == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_limits_bitbucket_server, On<Provider::kBitbucketServer>)

BOOST_AUTO_TEST_CASE(collapsed_single_child_directories_are_listed) {
  person->Write("configs/app/deep/er/est/c.yaml", "c: 1\n");
  BOOST_REQUIRE(person->CommitAndPush("deep"));
  MustSync();
  BOOST_TEST(Local("deep/er/est/c.yaml") == "c: 1\n");
  BOOST_TEST(Local("sub/b.yaml") == "b: 1\n");
}

BOOST_AUTO_TEST_SUITE_END()

// Project, group, repository and workspace access tokens, played by the server's {"token": ...}
// control as each provider documents them (cited there): each reads when its right suffices, and
// a missing right is named, never reported as a refused token, with the edit kept for later.
namespace {

// A bidirectional binding whose first pass reads the folder, then a local edit that must not
// reach the remote: the pass fails naming `right`, the edit stays in the folder and pending.
void ALocalEditIsHeldNamingTheRight(ApiFixture& f, const std::string& right) {
  f.spec.direction = SyncDirection::kBidirectional;
  f.MustSync();
  f.ExpectExactlyTheSeededFolder(f.provider_ != Provider::kBitbucketServer);
  WriteFile(f.spec.local + "/a.yaml", "a: 2\n");
  auto r = f.Sync();
  BOOST_REQUIRE(!r.ok());
  const std::string& m = r.status().message();
  BOOST_TEST(m.find(right) != std::string::npos, m);
  BOOST_TEST(m.find("was refused") == std::string::npos, m);
  BOOST_TEST(f.Count("write_forbidden") >= 1);
  BOOST_TEST(RemoteFile(f, "a.yaml") == "a: 1\n");
  BOOST_TEST(f.Local("a.yaml") == "a: 2\n");
  auto state = LoadBindingState(f.spec.binding_dir);
  BOOST_REQUIRE(state.ok());
  BOOST_TEST(state->pending_local_changes == 1u);
}

Result<ApiAccess> Access(ApiFixture& f) {
  auto api = MakeProviderApi(*f.spec.api);
  if (!api.ok()) return api.status();
  return (*api)->CheckAccess();
}

// The token gets the right (`control`): where the provider reports it, it says so, and the
// held edit goes out with the next pass.
void TheHeldEditGoesOutOnceGranted(ApiFixture& f, const std::string& control) {
  f.api->Control(control);
  if (f.provider_ != Provider::kBitbucketServer) {
    auto access = Access(f);
    BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
    BOOST_TEST((access->can_write == std::optional<bool>(true)));
  }
  f.MustSync();
  BOOST_TEST(RemoteFile(f, "a.yaml") == "a: 2\n");
}

struct GitLabProjectToken : ApiFixture {
  GitLabProjectToken() : ApiFixture(Provider::kGitLab, "api, read_repository") {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(api_token_kinds)

BOOST_FIXTURE_TEST_CASE(a_gitlab_project_token_with_the_reporter_role_reads_and_is_told_it_may_not_write,
                        GitLabProjectToken) {
  api->Control(R"({"token": {"gitlab_role": 20, "gitlab_projects": ["acme/monorepo"]}})");
  auto access = Access(*this);
  BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
  BOOST_TEST((access->can_write == std::optional<bool>(false)));
  BOOST_TEST(access->write_needs ==
             "the Developer role or higher on acme/monorepo (the token's role: Reporter; scopes: api, read_repository)");
  ALocalEditIsHeldNamingTheRight(*this, "the 'api' scope and the Developer role or higher");
  // With the Developer role the held edit goes out.
  TheHeldEditGoesOutOnceGranted(*this, R"({"token": {"gitlab_role": 30, "gitlab_projects": ["acme/monorepo"]}})");
}

BOOST_FIXTURE_TEST_CASE(a_gitlab_project_token_cannot_list_its_group_and_is_told_which_token_can,
                        GitLabProjectToken) {
  api->Control(R"({"token": {"gitlab_role": 30, "gitlab_projects": ["acme/monorepo"]}})");
  auto api_reader = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(api_reader.ok());
  auto list = (*api_reader)->ListRepositories("acme");
  BOOST_REQUIRE(!list.ok());
  BOOST_TEST(list.status().message().find("listing a group needs a group access token") != std::string::npos,
             list.status().message());
  // A group access token of acme lists it.
  api->Control(R"({"token": {"gitlab_role": 30, "gitlab_group": "acme"}})");
  list = (*api_reader)->ListRepositories("acme");
  BOOST_REQUIRE_MESSAGE(list.ok(), list.status().message());
  BOOST_REQUIRE(list->size() == 1u);
  BOOST_TEST((*list)[0].full_name == "acme/monorepo");
  // A group token of another group sees neither the group nor the project.
  api->Control(R"({"token": {"gitlab_role": 30, "gitlab_group": "other"}})");
  BOOST_TEST(!(*api_reader)->ListRepositories("acme").ok());
  // Nor does a pass: a project the token cannot see is an error, never a deleted branch.
  ExpectFailure("project acme/monorepo: not found (HTTP 404)");
}

BOOST_FIXTURE_TEST_CASE(a_bitbucket_cloud_repository_token_reports_its_scopes_and_a_read_only_one_holds_the_edit,
                        On<Provider::kBitbucketCloud>) {
  api->Control(R"({"token": {"bbc_kind": "repo_access_token", "bbc_scopes": "repository"}})");
  auto access = Access(*this);
  BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
  BOOST_TEST(access->scopes_reported);
  BOOST_TEST(access->scopes == "repository");
  BOOST_TEST((access->can_write == std::optional<bool>(false)));
  BOOST_TEST(access->write_needs == "the 'repository:write' scope (the repo_access_token has: repository)");
  ALocalEditIsHeldNamingTheRight(*this, "it needs the 'repository:write' scope (access tokens)");
  // A workspace token with repository:write writes.
  TheHeldEditGoesOutOnceGranted(
      *this, R"({"token": {"bbc_kind": "workspace_access_token", "bbc_scopes": "repository:write, pullrequest"}})");
}

BOOST_FIXTURE_TEST_CASE(a_bitbucket_server_read_only_access_token_is_told_it_needs_repository_write,
                        On<Provider::kBitbucketServer>) {
  api->Control(R"({"token": {"bbs_permission": "PROJECT_READ"}})");
  ALocalEditIsHeldNamingTheRight(*this, "it needs Repository write (REPO_WRITE, or Project write");
  TheHeldEditGoesOutOnceGranted(*this, R"({"token": {"bbs_permission": "PROJECT_WRITE"}})");
}

BOOST_AUTO_TEST_SUITE_END()
