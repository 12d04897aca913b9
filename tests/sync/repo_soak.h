// The repository soak of tests/sync/repo_maintenance_test.cpp (a few hundred passes under
// ctest) and bench/repo_soak.cpp (10,000): one binding of the folder "config" on a file:// or
// nginx HTTPS remote; before each pass a local edit, a remote edit (a commit written into the
// remote's repository, as a push leaves it), or both, now and then of the same file (a true
// conflict, keep-both). After every pass the binding's repository is counted; at the end
// every last edit must be in the folder and on the branch, every losing side on a conflict
// branch, `git fsck` clean on both repositories, and the object store is compared with a
// fresh `git clone --mirror` of the remote.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gitsyncd::testing {

struct RepoSoakOptions {
  bool https = false;     // the nginx HTTPS server (else a file:// remote)
  // Fetches go into the remote's shared store, as in the daemon; the counts and sizes are
  // then the store's and the binding's repository's (packs and loose objects: the larger of
  // the two; bytes: both).
  bool shared_store = true;
  int passes = 200;
  int checkpoint_every = 0;  // > 0: a table row (with a mirror clone to compare) every so many passes
  bool verbose = false;      // rows on stderr as they come
};

struct RepoSoakRow {
  int passes = 0;
  size_t packs = 0, loose = 0;
  uint64_t store_bytes = 0, mirror_bytes = 0;
  size_t heap_bytes = 0;  // the process's heap in use (mallinfo2), the passes' memory included
};

struct RepoSoakReport {
  int passes = 0;
  int maintained = 0;  // passes after which the pack count dropped (maintenance ran)
  size_t max_packs = 0, max_loose = 0;
  uint64_t store_bytes = 0, mirror_bytes = 0;  // at the end
  int conflicts = 0;
  std::vector<double> pass_ms, maintained_pass_ms;  // every pass; those that ran maintenance
  std::vector<RepoSoakRow> rows;
  // The heap in use after the first tenth of the passes and after the last: what passes leave
  // behind shows as the difference.
  size_t heap_after_warmup = 0, heap_at_end = 0;
  std::vector<std::string> failures;  // each names its pass; empty when nothing went wrong
  double seconds = 0;
};

RepoSoakReport RunRepoSoak(const RepoSoakOptions& options);

// The rows (and a summary line) as a Markdown table, as bench/RESULTS.md shows it.
std::string RepoSoakTable(const RepoSoakReport& report, const RepoSoakOptions& options);

}  // namespace gitsyncd::testing
