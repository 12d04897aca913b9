// state.json across versions: a file written before the format field existed is read whole and
// rewritten with the current format; a file from a newer gitsyncd is refused, not half-read.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

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

namespace {
ino_t Inode(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}
std::string IsoTime(int64_t seconds_ago) {
  std::time_t t = std::time(nullptr) - seconds_ago;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

// docs/sync.md, "What a binding costs on disk": no spare inode beside state.json.
BOOST_AUTO_TEST_CASE(state_json_is_replaced_whole_and_leaves_no_second_file) {
  TempDir dir;
  BindingState s;
  s.last_synced_commit = "3f1c2b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
  for (int i = 0; i < 3; ++i) {
    s.passes = static_cast<uint64_t>(i);
    BOOST_REQUIRE(SaveBindingState(dir / "b", s).ok());
  }
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir / "b")) names.push_back(e.path().filename().string());
  BOOST_TEST(names == std::vector<std::string>{"state.json"});
  BOOST_TEST(LoadBindingState(dir / "b")->passes == 2u);
}

// docs/sync.md, "Cost of a pass": a pass that changed nothing but the counters within a
// minute of the last success leaves state.json as it is; any other change, or a last success
// a minute old, is saved.
BOOST_AUTO_TEST_CASE(a_pass_that_changes_only_the_counters_soon_after_a_success_leaves_state_json_alone) {
  TempDir dir;
  std::string file = dir / "b/state.json";
  BindingState before;
  before.last_synced_commit = "3f1c2b0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
  before.last_success_time = IsoTime(5);
  before.passes = 7;
  BOOST_REQUIRE(SaveBindingState(dir / "b", before).ok());
  ino_t first = Inode(file);

  BindingState after = before;
  after.passes = 8;
  after.last_success_time = IsoTime(0);
  BOOST_REQUIRE(SaveBindingStateAfterPass(dir / "b", before, after).ok());
  BOOST_TEST(Inode(file) == first);
  BOOST_TEST(LoadBindingState(dir / "b")->passes == 7u);

  after.warnings = {"big.bin: larger than max_file_size"};
  BOOST_REQUIRE(SaveBindingStateAfterPass(dir / "b", before, after).ok());
  BOOST_TEST(Inode(file) != first);
  BOOST_TEST(LoadBindingState(dir / "b")->warnings == after.warnings);

  before = *LoadBindingState(dir / "b");
  before.last_success_time = IsoTime(61);
  BOOST_REQUIRE(SaveBindingState(dir / "b", before).ok());
  ino_t old = Inode(file);
  after = before;
  after.passes = before.passes + 1;
  after.last_success_time = IsoTime(0);
  BOOST_REQUIRE(SaveBindingStateAfterPass(dir / "b", before, after).ok());
  BOOST_TEST(Inode(file) != old);
  BOOST_TEST(LoadBindingState(dir / "b")->last_success_time == after.last_success_time);
}
