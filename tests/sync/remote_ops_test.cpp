// Fetches and pushes of sync/remote_ops against a file:// remote: the URL as the connector
// names it, and no memory left behind per operation (libgit2 1.5.1 leaks PCRE2 match data
// while it looks up `url.*.insteadOf` rules, which remote_ops therefore skips).
#include <malloc.h>

#include <boost/test/unit_test.hpp>

#include "sync/git_handles.h"
#include "sync/remote_ops.h"
#include "tests/support/git_cli.h"
#include "tests/support/temp_dir.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct RemoteFixture {
  TempDir dir;
  std::string bare = dir / "remote.git";
  RepositoryPtr repo;
  RemoteCredentials creds;

  RemoteFixture() {
    EnsureLibgit2();
    InitBareRepo(bare);
    GitClone person("file://" + bare, dir / "person");
    person.Write("a.yaml", "a: 1\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    git_repository* raw = nullptr;
    BOOST_REQUIRE(git_repository_init(&raw, (dir / "fetcher.git").c_str(), 1) == 0);
    repo.reset(raw);
    creds.url = "file://" + bare;
  }

  void SetConfig(const std::string& key, const std::string& value) {
    Git({"--git-dir", dir / "fetcher.git", "config", key, value});
  }
};

size_t HeapInUse() { return mallinfo2().uordblks; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(remote_ops, RemoteFixture)

// A rule in the repository's config that would send the fetch elsewhere is not applied: the
// daemon fetches from exactly the URL its connector names.
BOOST_AUTO_TEST_CASE(fetches_and_pushes_go_to_the_url_as_configured_whatever_insteadof_says) {
  SetConfig("url.file://" + (dir / "nowhere") + "/.insteadOf", "file://" + dir.path() + "/");
  auto head = FetchBranch(repo.get(), creds, "main");
  BOOST_REQUIRE_MESSAGE(head.ok(), head.status().message());
  BOOST_REQUIRE(head->has_value());
  BOOST_TEST(OidHex(**head) == Git({"--git-dir", bare, "rev-parse", "main"}).out.substr(0, 40));
  Status pushed = PushRefs(repo.get(), creds, {{**head, "refs/heads/copy"}});
  BOOST_REQUIRE_MESSAGE(pushed.ok(), pushed.message());
  BOOST_TEST(Git({"--git-dir", bare, "rev-parse", "copy"}).out.substr(0, 40) == OidHex(**head));
}

// Hundreds of fetches and pushes (a few days of a busy binding) leave the heap as it was,
// however many entries the repository's config holds.
BOOST_AUTO_TEST_CASE(hundreds_of_fetches_and_pushes_leave_no_memory_behind) {
  for (int i = 0; i < 20; ++i) SetConfig("test.key" + std::to_string(i), "value");
  auto warm = FetchBranch(repo.get(), creds, "main");
  BOOST_REQUIRE(warm.ok() && warm->has_value());
  for (int i = 0; i < 10; ++i) BOOST_REQUIRE(FetchBranch(repo.get(), creds, "main").ok());
  size_t before = HeapInUse();
  for (int i = 0; i < 300; ++i) {
    auto head = FetchBranch(repo.get(), creds, "main");
    BOOST_REQUIRE(head.ok());
    if (i % 30 == 0) BOOST_REQUIRE(PushRefs(repo.get(), creds, {{**warm, "refs/heads/copy"}}).ok());
  }
  size_t after = HeapInUse();
  // 20 KB of match data per config entry and lookup would be over 200 MB here.
  BOOST_TEST(after < before + 4 * 1024 * 1024, "the heap grew by " << (after - before) / 1024 << " KB");
}

BOOST_AUTO_TEST_SUITE_END()
