// The repository soak (tests/sync/repo_soak.h) at length, printing its table for
// bench/RESULTS.md: a binding's repository after thousands of passes with edits on both sides.
// Usage: build/bench/repo_soak [PASSES=10000] [file|https] [CHECKPOINT_EVERY=1000]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "tests/sync/repo_soak.h"

int main(int argc, char** argv) {
  gitsyncd::testing::RepoSoakOptions options;
  options.passes = argc > 1 ? std::atoi(argv[1]) : 10000;
  options.https = argc > 2 && std::string(argv[2]) == "https";
  options.checkpoint_every = argc > 3 ? std::atoi(argv[3]) : 1000;
  options.verbose = true;
  spdlog::set_level(spdlog::level::warn);  // one line per maintenance would bury the table
  if (options.passes <= 0 || options.checkpoint_every <= 0) {
    std::fprintf(stderr, "usage: %s [PASSES=10000] [file|https] [CHECKPOINT_EVERY=1000]\n", argv[0]);
    return 2;
  }
  auto report = gitsyncd::testing::RunRepoSoak(options);
  std::printf("%s\n", gitsyncd::testing::RepoSoakTable(report, options).c_str());
  for (const auto& f : report.failures) std::printf("FAILURE: %s\n", f.c_str());
  return report.failures.empty() ? 0 : 1;
}
