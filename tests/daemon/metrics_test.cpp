// /metrics output as Prometheus reads it: checked by `promtool check metrics` (Debian's
// prometheus package), the reference parser, and by the order rule promtool itself does not
// enforce strictly: each family's HELP/TYPE lines come before all of its samples, and no family's
// samples are split by another family.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "daemon/metrics.h"
#include "tests/support/temp_dir.h"

namespace gitsyncd {
namespace {

using testing::ReadFile;
using testing::TempDir;

std::vector<EngineBindingStatus> TwoBindingsWithState() {
  std::vector<EngineBindingStatus> out(2);
  out[0].name = "app";
  out[0].passes = 5;
  out[0].errors_total = 1;
  out[0].duration_buckets[2] = 4;
  out[0].state = BindingState{};
  out[0].state->pending_local_changes = 3;
  out[0].state->conflicts.push_back(
      ConflictRecord{"gitsyncd/conflicts/app/x", "t", "keep-both", {"a.yaml"}, false, "", "", "", ""});
  out[1].name = "web \"edge\"";
  out[1].state = BindingState{};
  return out;
}

// The metric family a sample line belongs to (histogram suffixes folded into their family).
std::string FamilyOf(const std::string& line) {
  std::string name = line.substr(0, line.find_first_of("{ "));
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
        name.find("duration_seconds") != std::string::npos)
      return name.substr(0, name.size() - s.size());
  }
  return name;
}

}  // namespace

BOOST_AUTO_TEST_CASE(metrics_pass_promtool_check) {
  WebhookCounters counters;
  counters.by_format_and_verdict["github/queued"] = 2;
  auto bindings = TwoBindingsWithState();
  // The config source with a refused commit: its family carries labels the others do not.
  EngineBindingStatus& source = bindings.emplace_back();
  source.name = "config-source";
  source.failures = 2;
  source.state = BindingState{};
  source.state->refused = {"4c1d", "check", "/etc/gitsyncd/connectors.d/web \"x\".yaml", 7};
  std::string text = RenderMetrics(bindings, 1, counters);
  BOOST_TEST(text.find("gitsyncd_config_source_error{commit=\"4c1d\",file=\"/etc/gitsyncd/connectors.d/web \\\"x\\\".yaml\",line=\"7\"} 1\n") !=
             std::string::npos, text);
  testing::TempDir dir;
  std::string file = dir.path() + "/metrics.txt";
  FILE* f = std::fopen(file.c_str(), "w");
  BOOST_REQUIRE(f);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  std::string cmd = "promtool check metrics < " + file + " > " + file + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  BOOST_TEST(rc == 0, "promtool check metrics failed; output:\n" + testing::ReadFile(file + ".out") + "\n" + text);
}

BOOST_AUTO_TEST_CASE(metrics_families_are_not_interleaved) {
  std::string text = RenderMetrics(TwoBindingsWithState(), 0, WebhookCounters{});
  std::istringstream in(text);
  std::string line, current;
  std::set<std::string> finished;
  std::map<std::string, int> help_seen;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::string fam = line.substr(7, line.find(' ', 7) - 7);
      BOOST_TEST(!finished.count(fam), "family " << fam << " announced twice (line " << n << ")");
      if (!current.empty()) finished.insert(current);
      current = fam;
      help_seen[fam]++;
      continue;
    }
    if (line.rfind("#", 0) == 0 || line.empty()) continue;
    BOOST_TEST(FamilyOf(line) == current, "line " << n << " '" << line << "' follows family " << current);
  }
  BOOST_TEST(help_seen.count("gitsyncd_open_conflicts") == 1u);
  BOOST_TEST(text.find("gitsyncd_open_conflicts{binding=\"app\"} 1") != std::string::npos);
  BOOST_TEST(text.find("gitsyncd_pending_local_changes{binding=\"app\"} 3") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(metrics_carry_build_info_with_version) {
  std::string text = RenderMetrics({}, 0, WebhookCounters{});
  BOOST_TEST(text.find("# TYPE gitsyncd_build_info gauge") != std::string::npos);
  BOOST_TEST(text.find("gitsyncd_build_info{version=\"") != std::string::npos);
}

}  // namespace gitsyncd
