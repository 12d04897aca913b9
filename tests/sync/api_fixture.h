// A binding with `fetch: api` against tests/support/provider_api_server.py, which serves a real
// bare repository through each provider's documented REST endpoints (see the script for the
// docs followed). The repository holds a folder configs/app (two YAML files, an executable, a
// symlink and a submodule entry) and a file outside it; `person` is someone using the git CLI.
#pragma once

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "sync/binding_state.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

namespace gitsyncd::testing {

struct ApiFixture {
  explicit ApiFixture(Provider provider = Provider::kGitHub, const char* scopes = nullptr) : provider_(provider) {
    Setup(scopes);
  }
  Provider provider_;
  TempDir dir;
  std::string bare = dir / "remote/monorepo.git";
  std::unique_ptr<GitClone> person;
  std::unique_ptr<ProviderApiServer> api;
  BindingSpec spec;

  void Setup(const char* scopes) {
    InitBareRepo(bare);
    person = std::make_unique<GitClone>(bare, dir / "person");
    person->Write("configs/app/a.yaml", "a: 1\n");
    person->Write("configs/app/sub/b.yaml", "b: 1\n");
    person->Write("configs/app/run.sh", "#!/bin/sh\necho hi\n");
    person->Write("other/outside.txt", "not in the folder\n");
    // A symlink and a submodule entry inside the folder: reported, never synced.
    std::filesystem::create_symlink("a.yaml", person->dir() + "/configs/app/link");
    Git({"-C", person->dir(), "add", "-A"});
    Git({"-C", person->dir(), "update-index", "--chmod=+x", "configs/app/run.sh"});
    Git({"-C", person->dir(), "update-index", "--add", "--cacheinfo",
         "160000,1111111111111111111111111111111111111111,configs/app/vendored"});
    Git({"-C", person->dir(), "commit", "-q", "-m", "seed"});
    Git({"-C", person->dir(), "push", "-q", "origin", "HEAD:main"});
    person->Pull();
    // The person's work tree as a checkout would leave it, so their later `git add -A` keeps
    // run.sh's mode and the submodule entry.
    std::filesystem::permissions(person->dir() + "/configs/app/run.sh", std::filesystem::perms::owner_exec,
                                 std::filesystem::perm_options::add);
    std::filesystem::create_directories(person->dir() + "/configs/app/vendored");
    api = std::make_unique<ProviderApiServer>("ghp-test-token", std::map<std::string, std::string>{{"acme/monorepo", bare}},
                                              scopes);
    spec.name = "dns";
    spec.branch = "main";
    spec.path = "configs/app";
    spec.local = dir / "local";
    spec.binding_dir = dir / "state/bindings/dns";
    spec.direction = SyncDirection::kPull;
    spec.author = CommitAuthor{"Config Bot", "config-bot@acme.example"};
    ApiTarget t;
    t.provider = provider_;
    t.api_base = provider_ == Provider::kGitLab       ? api->gitlab_api_url()
                 : provider_ == Provider::kAzureRepos ? api->azure_api_url("acme", "platform")
                 : provider_ == Provider::kBitbucketServer ? api->bitbucket_server_url()
                 : provider_ == Provider::kBitbucketCloud  ? api->bitbucket_cloud_url()
                                                      : api->api_url();
    t.repo = provider_ == Provider::kAzureRepos        ? "acme/platform/_git/monorepo"
             : provider_ == Provider::kBitbucketServer ? "scm/ACME/monorepo"
                                                       : "acme/monorepo";
    t.token = "ghp-test-token";
    t.http.ca_file = api->ca_file();
    t.http.proxy_from_environment = false;
    spec.api = t;
  }
  Result<PassOutcome> Sync() { return RunSyncPass(spec); }
  // A pass that must succeed.
  void MustSync() {
    auto r = Sync();
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  }
  // A pass that must fail with a message containing `needle`.
  void ExpectFailure(const std::string& needle) {
    auto r = Sync();
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.status().message().find(needle) != std::string::npos, r.status().message());
  }
  // The binding's warnings (gitsyncd status), one a line.
  std::string Warnings() {
    auto state = LoadBindingState(spec.binding_dir);
    BOOST_REQUIRE(state.ok());
    std::string all;
    for (const auto& w : state->warnings) all += w + "\n";
    return all;
  }
  // The local folder holds the seeded folder's regular files and nothing else. Bitbucket
  // Server's listings do not tell symlinks from files: there the link arrives as a file.
  void ExpectExactlyTheSeededFolder(bool symlinks_reported = true) {
    BOOST_TEST(Local("a.yaml") == "a: 1\n");
    BOOST_TEST(Local("sub/b.yaml") == "b: 1\n");
    BOOST_TEST(Local("run.sh") == "#!/bin/sh\necho hi\n");
    BOOST_TEST(!FileExists(spec.local + "/other/outside.txt"));
    BOOST_TEST(!FileExists(spec.local + "/outside.txt"));
    BOOST_TEST(FileExists(spec.local + "/link") == !symlinks_reported);
    BOOST_TEST(!FileExists(spec.local + "/vendored"));
  }
  std::string Local(const std::string& p) { return ReadFile(spec.local + "/" + p); }
  // Every request the server answered, of any kind.
  int64_t Total() {
    boost::json::value stats = boost::json::parse(api->Stats());
    int64_t n = 0;
    for (const auto& [k, v] : stats.at("requests").as_object()) n += v.as_int64();
    return n;
  }
  int64_t Count(const std::string& kind) {
    auto v = boost::json::parse(api->Stats());
    auto* n = v.at("requests").as_object().if_contains(kind);
    return n ? n->as_int64() : 0;
  }
};


// The fixture for one provider, with tokens that report no scopes.
template <Provider P>
struct On : ApiFixture {
  On() : ApiFixture(P) {}
};

}  // namespace gitsyncd::testing
