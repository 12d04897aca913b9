// Every folder under tests/fixtures/broken-configs/ is a config a user could write by mistake.
// `gitsyncd check-config` must fail on it (exit 1) with exactly the lines in its
// expected-errors.txt: file:line:col, the key, and a message saying what to do.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/support/temp_dir.h"

using namespace gitsyncd::testing;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(broken_configs)

BOOST_AUTO_TEST_CASE(check_config_prints_the_exact_errors_for_each_broken_example) {
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  fs::path root = fs::path(RequiredEnv("GITSYNCD_TEST_DATA")) / "fixtures/broken-configs";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    ++cases;
    std::string dir = entry.path().string();
    BOOST_TEST_CONTEXT("broken config " << entry.path().filename()) {
      CommandResult r = RunCommand({binary, "check-config", "--config", "."}, {}, "", dir);
      BOOST_TEST(r.exit_code == 1);
      BOOST_TEST(r.err == ReadFile(dir + "/expected-errors.txt"));
      BOOST_TEST(r.out == "");
    }
  }
  BOOST_TEST(cases >= 5);
}

BOOST_AUTO_TEST_CASE(check_config_accepts_the_examples) {
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string examples = RequiredEnv("GITSYNCD_SOURCE_DIR") + "/examples";
  CommandResult quick = RunCommand({binary, "check-config", "--config", examples + "/quickstart"});
  BOOST_TEST(quick.exit_code == 0, quick.err);
  BOOST_TEST(quick.out.find("remote:      file:///tmp/gitsyncd-quickstart/remote.git") != std::string::npos);
  CommandResult providers = RunCommand({binary, "check-config", "--config", examples + "/providers"});
  BOOST_TEST(providers.exit_code == 0, providers.err);
  BOOST_TEST(providers.out.find("3 connectors") != std::string::npos);
  BOOST_TEST(providers.out.find("remote:      https://github.com/acme-platform/service-config.git") != std::string::npos);
  // docs/fleet.md, "Config from Git": the example's gitsyncd.yaml and a connector as its branch holds it.
  CommandResult source = RunCommand({binary, "check-config", "--config", examples + "/config-source"});
  BOOST_TEST(source.exit_code == 0, source.err);
  BOOST_TEST(source.out.find("connector \"config-source\"") != std::string::npos, source.out);
  BOOST_TEST(source.out.find("remote:      https://git.example.com/ops/fleet-config.git") != std::string::npos);
  BOOST_TEST(source.out.find("local:       /srv/app/web") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
