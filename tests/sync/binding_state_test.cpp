// state.json across versions: a file written before the format field existed is read whole and
// rewritten with the current format; a file from a newer gitsyncd is refused, not half-read.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "sync/binding_state.h"
#include "tests/support/temp_dir.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

BOOST_AUTO_TEST_CASE(state_written_before_the_format_field_is_upgraded_without_loss) {
  TempDir dir;
  WriteFile(dir / "b/state.json", ReadFile(RequiredEnv("GITSYNCD_TEST_DATA") + "/fixtures/state/state-format-0.json"));
  auto s = LoadBindingState(dir / "b");
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().message());
  BOOST_TEST(s->last_synced_commit == "3f1c2b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a");
  BOOST_TEST(s->pending_local_changes == 2u);
  BOOST_TEST(s->passes == 41u);
  BOOST_REQUIRE(s->conflicts.size() == 1u);
  BOOST_TEST(s->conflicts[0].branch == "gitsyncd/conflicts/app/20261101T095900Z");
  BOOST_TEST(!s->conflicts[0].resolved);
  BOOST_REQUIRE(SaveBindingState(dir / "b", *s).ok());
  auto saved = boost::json::parse(ReadFile(dir / "b/state.json")).as_object();
  BOOST_TEST(saved.at("format").to_number<int>() == 2);
  BOOST_TEST(!s->paused);
  BOOST_TEST(s->conflicts[0].local_commit.empty());
  BOOST_TEST(saved.at("last_synced_commit").as_string() == "3f1c2b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a");
  auto again = LoadBindingState(dir / "b");
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again->warnings == s->warnings);
  BOOST_TEST(again->conflicts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(state_from_a_newer_gitsyncd_is_refused_with_a_reason) {
  TempDir dir;
  WriteFile(dir / "b/state.json", "{\"format\": 99, \"last_synced_commit\": \"abc\"}\n");
  auto s = LoadBindingState(dir / "b");
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.status().message().find("has format 99, written by a newer gitsyncd") != std::string::npos,
             s.status().message());
}

BOOST_AUTO_TEST_CASE(paused_state_and_both_sides_of_a_conflict_survive_a_save_and_load) {
  TempDir dir;
  BindingState s;
  s.paused = true;
  s.paused_time = "2026-11-30T00:00:00Z";
  ConflictRecord c;
  c.branch = "gitsyncd/conflicts/app/20261130T000000Z";
  c.files = {"a.yaml"};
  c.local_commit = std::string(40, 'a');
  c.remote_commit = std::string(40, 'b');
  c.resolved = true;
  c.resolved_time = "2026-11-30T00:01:00Z";
  s.conflicts.push_back(c);
  BOOST_REQUIRE(SaveBindingState(dir / "b", s).ok());
  auto again = LoadBindingState(dir / "b");
  BOOST_REQUIRE_MESSAGE(again.ok(), again.status().message());
  BOOST_TEST(again->paused);
  BOOST_TEST(again->paused_time == "2026-11-30T00:00:00Z");
  BOOST_REQUIRE(again->conflicts.size() == 1u);
  BOOST_TEST(again->conflicts[0].local_commit == c.local_commit);
  BOOST_TEST(again->conflicts[0].remote_commit == c.remote_commit);
  BOOST_TEST(again->conflicts[0].resolved);
  BOOST_TEST(again->conflicts[0].resolved_time == c.resolved_time);
}
