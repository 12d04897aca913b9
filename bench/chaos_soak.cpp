// The chaos soak: the scenario of tests/daemon/chaos_test.cpp (tests/daemon/chaos_scenario.h)
// with many more kills, printing its table for bench/RESULTS.md.
// Usage: build/bench/chaos_soak GITSYNCD_BINARY [KILLS=300] [SEED] [MAX_SECONDS]
// (MAX_SECONDS: start no round after that long; the table then shows the kills that were made)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/daemon/chaos_scenario.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GITSYNCD_BINARY [KILLS=300] [SEED] [MAX_SECONDS]\n", argv[0]);
    return 2;
  }
  gitsyncd::testing::ChaosOptions options;
  options.binary = argv[1];
  options.kills = argc > 2 ? std::atoi(argv[2]) : 300;
  if (argc > 3) options.seed = static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10));
  if (argc > 4) options.max_seconds = std::atoi(argv[4]);
  options.verbose = true;
  auto report = gitsyncd::testing::RunChaos(options);
  std::printf("%s\n%d kills (%d while the daemon recovered from the previous one), %d restarts checked, seed %u, "
              "%.0f s\n",
              gitsyncd::testing::ChaosTable(report).c_str(), report.kills, report.kills_during_start,
              report.restarts_checked, options.seed, report.seconds);
  for (const auto& f : report.failures) std::printf("FAILURE: %s\n", f.c_str());
  return report.failures.empty() ? 0 : 1;
}
