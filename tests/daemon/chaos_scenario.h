// The chaos scenario of tests/daemon/chaos_test.cpp (a short run under ctest) and
// bench/chaos_soak.cpp (a long one). One `gitsyncd run` syncs two folders: one with a branch on
// the nginx + `git http-backend` HTTPS server, one with a branch of a file:// remote. Each
// round starts the daemon, waits until every earlier edit is on both sides (the losing side of
// a true conflict on a gitsyncd/conflicts/... branch instead) and checks that with `git fsck`
// on both remotes and both binding repositories; then edits are made on both sides (files
// written and deleted in the folders, commits pushed by a person with the git CLI, some files
// edited on both sides at once) and the daemon is killed with SIGKILL at a random moment. Some
// rounds kill the daemon during its start instead, while it recovers from the previous kill.
#pragma once

#include <string>
#include <vector>

namespace gitsyncd::testing {

struct ChaosOptions {
  std::string binary;      // the gitsyncd executable
  int kills = 30;
  unsigned seed = 20261129;
  int max_delay_ms = 700;  // a round's kill comes 0..max_delay_ms after its edits
  bool verbose = false;    // a line per round on stderr
  int max_seconds = 0;     // > 0: start no round after this long (fewer kills), then check as usual
};

struct ChaosRemoteTally {
  std::string remote;               // "https" or "file"
  int local_edits = 0;              // files written or deleted in the synced folder
  int person_pushes = 0;            // pushes by the person that the remote accepted
  int edited_on_both_sides = 0;     // files both sides changed in the same round
  int conflict_branches = 0;        // gitsyncd/conflicts/... branches at the end
  int lost_edits = 0;               // an edit on neither side nor on a conflict branch
  int rewound_person_commits = 0;   // an accepted push no longer reachable from the branch
  int fsck_failures = 0;            // on the remote or the binding's repository
};

struct ChaosReport {
  int kills = 0;                      // SIGKILLs of the daemon
  int kills_during_start = 0;         // of those, while it recovered from the previous one
  int restarts_checked = 0;           // restarts after which everything was verified
  std::vector<ChaosRemoteTally> remotes;
  std::vector<double> converge_ms;    // per checked restart: start -> both sides in step
  std::vector<std::string> failures;  // each names its round; empty when nothing went wrong
  double seconds = 0;
};

ChaosReport RunChaos(const ChaosOptions& options);

// The report as a Markdown table (one row per remote), as bench/RESULTS.md shows it.
std::string ChaosTable(const ChaosReport& report);

}  // namespace gitsyncd::testing
