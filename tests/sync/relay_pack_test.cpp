// Relayed objects (docs/fleet.md, "Relayed objects"): the MAC over a relay record and the pack
// that one shared store fetched and another indexes, against a file:// remote. The consumer's
// remote is taken away before it accepts a relay, so a fetch there would fail: what it answers
// came from the pack.
#include <boost/test/unit_test.hpp>
#include <sys/stat.h>

#include <filesystem>

#include "sync/git_handles.h"
#include "sync/relay_pack.h"
#include "sync/repo_maintenance.h"
#include "sync/shared_store.h"
#include "tests/support/git_cli.h"
#include "tests/support/temp_dir.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

const std::string kSecret = "relay-secret-of-the-test-fleet-0123456789";

git_oid Oid(const std::string& hex) {
  git_oid id;
  git_oid_fromstr(&id, hex.c_str());
  return id;
}

struct RelayFixture {
  TempDir dir;
  std::string bare = dir / "remote.git";
  std::unique_ptr<GitClone> person;
  RemoteCredentials creds;

  RelayFixture() {
    InitBareRepo(bare);
    person = std::make_unique<GitClone>("file://" + bare, dir / "person");
    creds.url = "file://" + bare;
  }
  std::string Commit(const std::string& file, const std::string& content) {
    person->Write(file, content);
    BOOST_REQUIRE(person->CommitAndPush("edit " + file));
    return person->Head();
  }
  SharedFetchRequest Store(const std::string& name, std::chrono::steady_clock::time_point at = {}) {
    return {dir / name, "team", "main", at};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(relay_pack, RelayFixture)

BOOST_AUTO_TEST_CASE(the_mac_covers_every_field_and_needs_the_same_key) {
  auto key = RelayKey::FromSecret(kSecret, "gitsyncd.yaml:9:14: cluster.relay_key");
  BOOST_REQUIRE(key.ok());
  RelayRecord r{"https://git.example.com/cfg.git", "main", std::string(40, 'a'), std::string(40, 'b'), "PACK..."};
  std::string mac = key->Mac(r);
  BOOST_TEST(mac.size() == 64u);
  BOOST_TEST(key->Verify(r, mac));
  for (std::string RelayRecord::*field : {&RelayRecord::remote, &RelayRecord::branch, &RelayRecord::base,
                                          &RelayRecord::commit, &RelayRecord::pack}) {
    RelayRecord changed = r;
    (changed.*field).push_back('x');
    BOOST_TEST(!key->Verify(changed, mac));
  }
  // Fields are length-prefixed: moving a byte from one to the next changes the MAC.
  RelayRecord shifted = r;
  shifted.remote.pop_back();
  shifted.branch = "tmain";
  BOOST_TEST(!key->Verify(shifted, mac));
  BOOST_TEST(!key->Verify(r, mac.substr(0, 63) + (mac[63] == '0' ? "1" : "0")));
  BOOST_TEST(!key->Verify(r, "not hex"));
  auto other = RelayKey::FromSecret(kSecret + "!", "x");
  BOOST_REQUIRE(other.ok());
  BOOST_TEST(!other->Verify(r, mac));
  auto short_key = RelayKey::FromSecret("only-31-bytes-long-secret-value", "gitsyncd.yaml:9:14: cluster.relay_key");
  BOOST_REQUIRE(!short_key.ok());
  BOOST_TEST(short_key.status().message() ==
             "gitsyncd.yaml:9:14: cluster.relay_key: the secret must be at least 32 bytes (e.g. `openssl rand -base64 48`)");
}

BOOST_AUTO_TEST_CASE(a_pack_built_after_a_fetch_gives_another_store_the_new_head_without_a_fetch) {
  std::string c1 = Commit("app/a.yaml", "a: 1\n");
  BOOST_REQUIRE(FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes).ok());
  auto first = SharedFetch(Store("consumer"), creds);
  BOOST_REQUIRE(first.ok());
  std::string c2 = Commit("app/a.yaml", "a: 2\n");
  auto relayed = FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes);
  BOOST_REQUIRE(relayed.ok());
  BOOST_REQUIRE(relayed->head.has_value());
  BOOST_TEST(OidHex(*relayed->head) == c2);
  BOOST_REQUIRE(relayed->base.has_value());
  BOOST_TEST(OidHex(*relayed->base) == c1);  // the head known before the fetch
  BOOST_REQUIRE(relayed->pack.has_value());

  fs::rename(bare, dir / "gone.git");  // from now on a fetch by the consumer fails
  auto at = std::chrono::steady_clock::now();
  BOOST_REQUIRE(!SharedFetch(Store("consumer"), creds).ok());
  Status accepted = AcceptRelayedHead(Store("consumer", at), relayed->base, *relayed->head, *relayed->pack);
  BOOST_REQUIRE_MESSAGE(accepted.ok(), accepted.message());
  auto head = SharedFetch(Store("consumer", at), creds);  // answered by the relay
  BOOST_REQUIRE(head.ok());
  BOOST_TEST(OidHex(**head) == c2);
  BOOST_TEST(OidHex(*KnownSharedHead(Store("consumer"))) == c2);
  // Every object of the new commit is in the consumer's store.
  BOOST_TEST(ShowFile(dir / "consumer", c2, "app/a.yaml") == "a: 2\n");
}

// Each accepted relay adds a pack. The store is consolidated at the end of the pass the relay
// triggers (MaintainSharedStore), not before it: here no pass follows (as for a paused
// binding), so the packs pile up past kMaxPacks, yet never past twice that, and the next call
// brings the store back within its bounds with every object still there.
BOOST_AUTO_TEST_CASE(relays_no_pass_follows_keep_the_store_under_twice_its_bounds_until_a_pass_end_consolidates_it) {
  Commit("app/a.yaml", "a: 0\n");
  BOOST_REQUIRE(FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes).ok());
  BOOST_REQUIRE(SharedFetch(Store("consumer"), creds).ok());
  MaintainSharedStore(dir / "consumer");
  size_t most = 0;
  std::string last;
  for (int i = 1; i <= static_cast<int>(2 * kMaxPacks) + 3; ++i) {
    last = Commit("app/a.yaml", "a: " + std::to_string(i) + "\n");
    auto relayed = FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes);
    BOOST_REQUIRE(relayed.ok() && relayed->pack.has_value());
    Status accepted = AcceptRelayedHead(Store("consumer", std::chrono::steady_clock::now()), relayed->base,
                                        *relayed->head, *relayed->pack);
    BOOST_REQUIRE_MESSAGE(accepted.ok(), accepted.message());
    most = std::max(most, CountObjectStore(dir / "consumer").packs);
  }
  BOOST_TEST(most > kMaxPacks);       // not consolidated on the way to the folder
  BOOST_TEST(most <= 2 * kMaxPacks);  // the backstop
  MaintainSharedStore(dir / "consumer");
  BOOST_TEST(CountObjectStore(dir / "consumer").packs <= kMaxPacks);
  BOOST_TEST(ShowFile(dir / "consumer", last, "app/a.yaml") == "a: " + std::to_string(2 * kMaxPacks + 3) + "\n");
  CommandResult fsck = Git({"--git-dir", dir / "consumer", "fsck", "--full"}, "", {}, true);
  BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
}

BOOST_AUTO_TEST_CASE(a_damaged_incomplete_or_older_relay_is_refused_and_moves_no_head) {
  std::string c1 = Commit("app/a.yaml", "a: 1\n");
  BOOST_REQUIRE(SharedFetch(Store("producer"), creds).ok());
  BOOST_REQUIRE(SharedFetch(Store("consumer"), creds).ok());
  std::string c2 = Commit("app/a.yaml", "a: 2\n");
  auto to_c2 = FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes);
  BOOST_REQUIRE(to_c2.ok() && to_c2->pack);
  std::string c3 = Commit("app/b.yaml", "b: 3\n");
  auto to_c3 = FetchForRelay(Store("producer"), creds, kMaxRelayPackBytes);
  BOOST_REQUIRE(to_c3.ok() && to_c3->pack);
  fs::rename(bare, dir / "gone.git");
  auto at = std::chrono::steady_clock::now();

  // One byte changed: the indexer's checksum fails.
  std::string damaged = *to_c2->pack;
  damaged[damaged.size() / 2] ^= 0x20;
  BOOST_TEST(!AcceptRelayedHead(Store("consumer", at), Oid(c1), Oid(c2), damaged).ok());
  // c3's pack alone (it needs c2, which the consumer lacks), even when the record claims c1
  // as its base: the pack names objects neither it nor the store holds.
  Status incomplete = AcceptRelayedHead(Store("consumer", at), Oid(c1), Oid(c3), *to_c3->pack);
  BOOST_TEST(!incomplete.ok());
  BOOST_TEST(incomplete.message().find("neither the pack nor the store holds") != std::string::npos, incomplete.message());
  BOOST_TEST(OidHex(*KnownSharedHead(Store("consumer"))) == c1);
  // A refused pack leaves nothing behind in the store's folder for incoming packs, which is
  // kept from one relay to the next (no folder made per pack).
  std::string incoming = dir / "consumer/relay-incoming";
  struct stat before{};
  BOOST_REQUIRE(::stat(incoming.c_str(), &before) == 0);
  BOOST_TEST(fs::is_empty(incoming));

  // In order it is taken; replaying the older relay afterwards moves nothing back.
  BOOST_REQUIRE(AcceptRelayedHead(Store("consumer", at), Oid(c1), Oid(c2), *to_c2->pack).ok());
  BOOST_REQUIRE(AcceptRelayedHead(Store("consumer", at), Oid(c2), Oid(c3), *to_c3->pack).ok());
  BOOST_TEST(OidHex(*KnownSharedHead(Store("consumer"))) == c3);
  Status replay = AcceptRelayedHead(Store("consumer", at), Oid(c1), Oid(c2), *to_c2->pack);
  BOOST_TEST((replay.code() == Status::Code::kConflict), replay.message());
  BOOST_TEST(OidHex(*KnownSharedHead(Store("consumer"))) == c3);
  struct stat after{};
  BOOST_REQUIRE(::stat(incoming.c_str(), &after) == 0);
  BOOST_TEST(after.st_ino == before.st_ino);
  BOOST_TEST(fs::is_empty(incoming));
}

BOOST_AUTO_TEST_CASE(a_pack_over_the_cap_is_not_built_and_a_store_with_no_known_head_takes_no_relay) {
  Commit("app/a.yaml", "a: 1\n");
  auto tiny = FetchForRelay(Store("producer"), creds, 16);
  BOOST_REQUIRE(tiny.ok());
  BOOST_TEST(tiny->head.has_value());
  BOOST_TEST(!tiny->pack.has_value());
  auto whole = FetchForRelay(Store("producer2"), creds, kMaxRelayPackBytes);
  BOOST_REQUIRE(whole.ok() && whole->pack);
  BOOST_TEST(!whole->base.has_value());  // the first commit: its whole history
  Status fresh = AcceptRelayedHead(Store("consumer"), std::nullopt, *whole->head, *whole->pack);
  BOOST_TEST((fresh.code() == Status::Code::kUnavailable), fresh.message());
}

BOOST_AUTO_TEST_SUITE_END()
