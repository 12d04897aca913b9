// fetch: api against tests/support/provider_api_server.py, which serves a real bare repository
// through GitHub's documented REST endpoints and JSON shapes (see the script for the docs
// followed), over TLS with a test CA and bearer-token auth. What the user checks: the folder
// holds exactly the remote folder's files, a no-change resync costs one request, only changed
// files are downloaded, rate limits and 5xx are waited out, hostile listings are refused.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "sync/binding_state.h"
#include "tests/sync/api_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

// After a first sync, the person edits a.yaml, adds new.yaml, deletes sub/b.yaml and edits a
// file outside the folder; the next pass brings exactly that. Returns the files it downloaded.
int64_t DownloadsAfterAPushEditingAddingAndDeleting(ApiFixture& f) {
  f.MustSync();
  f.person->Write("configs/app/a.yaml", "a: 2\n");
  f.person->Remove("configs/app/sub/b.yaml");
  f.person->Write("configs/app/new.yaml", "new: true\n");
  f.person->Write("other/outside.txt", "changed outside\n");
  BOOST_REQUIRE(f.person->CommitAndPush("edit"));
  int64_t blobs = f.Count("blob");
  f.MustSync();
  BOOST_TEST(f.Local("a.yaml") == "a: 2\n");
  BOOST_TEST(f.Local("new.yaml") == "new: true\n");
  BOOST_TEST(f.Local("run.sh") == "#!/bin/sh\necho hi\n");
  BOOST_TEST(!FileExists(f.spec.local + "/sub/b.yaml"));
  BOOST_TEST(!FileExists(f.spec.local + "/outside.txt"));
  return f.Count("blob") - blobs;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(api_fetch, ApiFixture)

BOOST_AUTO_TEST_CASE(initial_fetch_brings_exactly_the_folder) {
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("blob") == 3);  // the three files of the folder, nothing else
  std::string warnings = Warnings();
  BOOST_TEST(warnings.find("remote symlink link: not synced") != std::string::npos, warnings);
  BOOST_TEST(warnings.find("remote submodule vendored: not synced") != std::string::npos, warnings);
}

BOOST_AUTO_TEST_CASE(top_level_and_root_folders) {
  spec.path = "configs";
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Local("app/a.yaml") == "a: 1\n");
  BOOST_TEST(!FileExists(spec.local + "/other/outside.txt"));
  spec.path = "";
  spec.local = dir / "whole";
  spec.binding_dir = dir / "state/bindings/whole";
  r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Local("other/outside.txt") == "not in the folder\n");
  BOOST_TEST(Local("configs/app/sub/b.yaml") == "b: 1\n");
  spec.path = "no/such/folder";
  spec.local = dir / "none";
  spec.binding_dir = dir / "state/bindings/none";
  r = Sync();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("folder no/such/folder does not exist at commit") != std::string::npos,
             r.status().message());
}

BOOST_AUTO_TEST_CASE(no_change_resync_costs_one_request) {
  BOOST_REQUIRE(Sync().ok());
  auto before = boost::json::parse(api->Stats()).at("requests").as_object();
  BOOST_REQUIRE(Sync().ok());
  auto after = boost::json::parse(api->Stats()).at("requests").as_object();
  int64_t total_before = 0, total_after = 0;
  for (const auto& [k, v] : before) total_before += v.as_int64();
  for (const auto& [k, v] : after) total_after += v.as_int64();
  BOOST_TEST(total_after - total_before == 1);
  BOOST_TEST(after.at("ref").as_int64() - before.at("ref").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(a_push_downloads_only_the_changed_files) {
  BOOST_TEST(DownloadsAfterAPushEditingAddingAndDeleting(*this) == 2);  // a.yaml and new.yaml; run.sh is known
}

BOOST_AUTO_TEST_CASE(local_edits_are_never_overwritten) {
  BOOST_REQUIRE(Sync().ok());
  WriteFile(spec.local + "/a.yaml", "a: local edit\n");
  person->Write("configs/app/a.yaml", "a: remote edit\n");
  person->Write("configs/app/sub/b.yaml", "b: 2\n");
  BOOST_REQUIRE(person->CommitAndPush("remote"));
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Local("a.yaml") == "a: local edit\n");
  BOOST_TEST(Local("sub/b.yaml") == "b: 2\n");
}

BOOST_AUTO_TEST_CASE(rate_limits_and_server_errors_are_waited_out) {
  api->Control("{\"rate_limit\": 1}");
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  api->Control("{\"rate_limit_403\": 1}");
  person->Write("configs/app/a.yaml", "a: 3\n");
  BOOST_REQUIRE(person->CommitAndPush("again"));
  BOOST_REQUIRE(Sync().ok());
  api->Control("{\"fail_5xx\": 2}");
  person->Write("configs/app/a.yaml", "a: 4\n");
  BOOST_REQUIRE(person->CommitAndPush("and again"));
  r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Local("a.yaml") == "a: 4\n");
  BOOST_TEST(Count("rate_limited") == 2);
  BOOST_TEST(Count("bad_gateway") == 2);
}

BOOST_AUTO_TEST_CASE(a_truncated_listing_is_completed_level_by_level) {
  api->Control("{\"truncate\": true}");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Local("sub/b.yaml") == "b: 1\n");
  BOOST_TEST(Count("tree") >= 2);
}

BOOST_AUTO_TEST_CASE(a_hostile_listing_is_refused_and_nothing_is_written) {
  api->Control(
      "{\"inject\": {\"path\": \"../../evil.yaml\", \"mode\": \"100644\", \"type\": \"blob\", "
      "\"sha\": \"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\", \"size\": 0}}");
  ExpectFailure("unsafe path '../../evil.yaml' ('..' is not a file name)");
  BOOST_TEST(!FileExists(spec.local + "/a.yaml"));
  BOOST_TEST(!FileExists(dir / "evil.yaml"));
}

BOOST_AUTO_TEST_CASE(a_wrong_token_or_missing_branch_is_a_clear_error) {
  spec.api->token = "wrong";
  ExpectFailure("the API token was refused (HTTP 401)");
  spec.api->token = "ghp-test-token";
  BOOST_REQUIRE(Sync().ok());
  spec.branch = "release";  // never existed: the folder stays as it is
  ExpectFailure("branch release no longer exists");
  BOOST_TEST(Local("a.yaml") == "a: 1\n");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
struct GitLabFixture : ApiFixture {
  GitLabFixture() : ApiFixture(Provider::kGitLab, "read_api, read_repository") {}
};
}  // namespace

BOOST_FIXTURE_TEST_SUITE(gitlab_api_fetch, GitLabFixture)

BOOST_AUTO_TEST_CASE(paginated_listing_brings_exactly_the_folder_then_only_changes) {
  api->Control("{\"per_page_max\": 2}");  // 6 entries in the folder: 3+ pages
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("tree") >= 3);
  BOOST_TEST(Count("blob") == 3);
  person->Write("configs/app/a.yaml", "a: 2\n");
  BOOST_REQUIRE(person->CommitAndPush("edit"));
  MustSync();
  BOOST_TEST(Local("a.yaml") == "a: 2\n");
  BOOST_TEST(Count("blob") == 4);
  int64_t refs = Count("ref"), trees = Count("tree");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Count("ref") == refs + 1);
  BOOST_TEST(Count("tree") == trees);
}

BOOST_AUTO_TEST_CASE(token_scopes_are_checked) {
  auto good = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(good.ok());
  auto access = (*good)->CheckAccess();
  BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
  BOOST_TEST(access->scopes == "read_api, read_repository");
}

BOOST_AUTO_TEST_CASE(a_hostile_listing_is_refused) {
  api->Control("{\"inject\": {\"id\": \"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\", \"name\": \"x\", "
               "\"type\": \"blob\", \"path\": \"configs/app/../../etc/x\", \"mode\": \"100644\"}}");
  ExpectFailure("unsafe path 'configs/app/../../etc/x'");
  BOOST_TEST(!FileExists(spec.local + "/a.yaml"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(gitlab_token_without_read_api_is_named) {
  ApiFixture f(Provider::kGitLab, "read_user");
  auto api = MakeProviderApi(*f.spec.api);
  BOOST_REQUIRE(api.ok());
  auto access = (*api)->CheckAccess();
  BOOST_REQUIRE(!access.ok());
  BOOST_TEST(access.status().message() ==
             "the API token lacks the 'read_api' scope needed to read acme/monorepo (it has: read_user)");
}

BOOST_FIXTURE_TEST_SUITE(azure_api_fetch, On<Provider::kAzureRepos>)

BOOST_AUTO_TEST_CASE(items_listing_brings_exactly_the_folder_then_only_changes) {
  MustSync();
  ExpectExactlyTheSeededFolder();
  BOOST_TEST(Count("blob") == 3);
  person->Write("configs/app/sub/b.yaml", "b: 2\n");
  BOOST_REQUIRE(person->CommitAndPush("edit"));
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Local("sub/b.yaml") == "b: 2\n");
  BOOST_TEST(Count("blob") == 4);
  int64_t refs = Count("ref"), lists = Count("tree_recursive");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Count("ref") == refs + 1);
  BOOST_TEST(Count("tree_recursive") == lists);
  auto api_reader = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(api_reader.ok());
  auto access = (*api_reader)->CheckAccess();
  BOOST_TEST(access.ok());
  BOOST_TEST(!access->scopes_reported);
}

BOOST_AUTO_TEST_CASE(a_wrong_pat_is_refused) {
  // Azure DevOps answers a wrong PAT with 203 and a sign-in page, not 401.
  spec.api->token = "wrong";
  ExpectFailure("the API token was refused (HTTP 203)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(bitbucket_server_api_fetch, On<Provider::kBitbucketServer>)

BOOST_AUTO_TEST_CASE(paged_browsing_brings_exactly_the_folder_then_only_changes) {
  api->Control("{\"per_page_max\": 2}");
  MustSync();
  ExpectExactlyTheSeededFolder(/*symlinks_reported=*/false);
  person->Write("configs/app/sub/b.yaml", "b: 2\n");
  BOOST_REQUIRE(person->CommitAndPush("edit"));
  int64_t blobs = Count("blob");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Local("sub/b.yaml") == "b: 2\n");
  BOOST_TEST(Count("blob") == blobs + 1);
  int64_t refs = Count("ref"), trees = Count("tree");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Count("ref") == refs + 1);
  BOOST_TEST(Count("tree") == trees);
}

BOOST_AUTO_TEST_CASE(api_url_is_required_and_a_wrong_token_is_refused) {
  spec.api->api_base = "";
  ExpectFailure("fetch: api with bitbucket-server needs api.url");
  spec.api->api_base = api->bitbucket_server_url();
  spec.api->token = "wrong";
  ExpectFailure("the API token was refused (HTTP 401)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(bitbucket_cloud_api_fetch, On<Provider::kBitbucketCloud>)

BOOST_AUTO_TEST_CASE(paged_listing_brings_exactly_the_folder_with_its_modes) {
  api->Control("{\"per_page_max\": 2}");
  MustSync();
  ExpectExactlyTheSeededFolder();
  bool executable = (std::filesystem::status(spec.local + "/run.sh").permissions() &
                     std::filesystem::perms::owner_exec) != std::filesystem::perms::none;
  BOOST_TEST(executable);
  BOOST_TEST(Count("blob") == 3);
  std::string warnings = Warnings();
  BOOST_TEST(warnings.find("remote symlink link: not synced") != std::string::npos, warnings);
  BOOST_TEST(warnings.find("remote submodule vendored: not synced") != std::string::npos, warnings);
}

BOOST_AUTO_TEST_CASE(a_push_downloads_only_the_files_its_diffstat_names) {
  // a.yaml and new.yaml; run.sh is kept from the last snapshot, as the diffstat names it not.
  BOOST_TEST(DownloadsAfterAPushEditingAddingAndDeleting(*this) == 2);
  BOOST_TEST(Count("diffstat") == 1);

  // A push outside the folder: listed again, nothing downloaded.
  person->Write("other/outside.txt", "changed again\n");
  BOOST_REQUIRE(person->CommitAndPush("outside"));
  int64_t blobs = Count("blob");
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Count("blob") == blobs);
  BOOST_TEST(Local("a.yaml") == "a: 2\n");

  // No change: one request.
  int64_t requests = Total();
  BOOST_REQUIRE(Sync().ok());
  BOOST_TEST(Total() - requests == 1);
}

BOOST_AUTO_TEST_CASE(directories_the_listing_did_not_descend_into_are_listed_on_their_own) {
  api->Control("{\"max_depth_cap\": 1}");  // the server lists one level, whatever max_depth asks
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Local("sub/b.yaml") == "b: 1\n");
  BOOST_TEST(Count("tree") == 2);
}

BOOST_AUTO_TEST_CASE(hostile_listings_are_refused_and_nothing_is_written) {
  api->Control("{\"inject\": {\"type\": \"commit_file\", \"path\": \"configs/app/../../evil.yaml\", "
               "\"attributes\": [], \"size\": 1}}");
  ExpectFailure("unsafe path 'configs/app/../../evil.yaml'");
  BOOST_TEST(!FileExists(spec.local + "/a.yaml"));
}

BOOST_AUTO_TEST_CASE(a_wrong_token_or_missing_branch_is_a_clear_error) {
  spec.api->token = "wrong";
  ExpectFailure("the API token was refused (HTTP 401)");
  spec.api->token = "ghp-test-token";
  auto reader = MakeProviderApi(*spec.api);
  BOOST_REQUIRE(reader.ok());
  auto head = (*reader)->BranchHead("release");
  BOOST_TEST((head.status().code() == Status::Code::kNotFound));
  BOOST_TEST((*reader)->CheckAccess().ok());
}

BOOST_AUTO_TEST_SUITE_END()
