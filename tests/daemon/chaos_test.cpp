// The chaos test, short version (bench/chaos_soak runs the same scenario with 300 kills): one
// `gitsyncd run` syncs a folder with the nginx HTTPS Git server and one with a file:// remote
// and is killed with SIGKILL 30 times at random moments (fixed seed) while both sides edit.
// After every restart each edit is on both sides or on a conflict branch, no commit a person
// pushed is rewound, and `git fsck` is clean on both remotes and both binding repositories.
#include <boost/test/unit_test.hpp>

#include "tests/daemon/chaos_scenario.h"
#include "tests/support/temp_dir.h"

using namespace gitsyncd::testing;

BOOST_AUTO_TEST_SUITE(chaos)

BOOST_AUTO_TEST_CASE(thirty_kills_while_both_sides_edit_lose_no_edit_over_https_and_file_remotes) {
  ChaosOptions options;
  options.binary = RequiredEnv("GITSYNCD_BINARY");
  options.kills = 30;
  ChaosReport report = RunChaos(options);
  BOOST_TEST_MESSAGE("\n" << ChaosTable(report) << report.seconds << " s");
  for (const auto& f : report.failures) BOOST_ERROR(f);
  BOOST_TEST(report.kills == 30);
  BOOST_TEST(report.restarts_checked == 31 - report.kills_during_start);
  BOOST_REQUIRE(report.remotes.size() == 2u);
  for (const auto& r : report.remotes) {
    BOOST_TEST(r.local_edits > 0);
    BOOST_TEST(r.person_pushes > 0);
    BOOST_TEST(r.edited_on_both_sides > 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
