// The gitsyncd command line as a user runs it: exit codes, help, and the secret commands.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/support/temp_dir.h"

using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

struct CliFixture {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  CliFixture() { WriteFile(dir / "gitsyncd.yaml", "state_dir: " + (dir / "state") + "\n"); }
  CommandResult Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {binary, "--config", dir.path()});
    return RunCommand(args, {{"GITSYNCD_CONFIG", ""}}, input);
  }
};

bool TreeContains(const std::string& root, const std::string& needle) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && ReadFile(e.path().string()).find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cli, CliFixture)

BOOST_AUTO_TEST_CASE(no_subcommand_is_a_usage_error) {
  auto r = RunCommand({binary});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("A subcommand is required") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(unknown_option_is_a_usage_error) {
  auto r = Run({"check-config", "--bogus"});
  BOOST_TEST(r.exit_code == 2);
}

BOOST_AUTO_TEST_CASE(every_subcommand_has_help) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"check-config"}, {"secret"}, {"secret", "set"},
                                       {"secret", "init"}, {"secret", "list"}, {"secret", "rm"}}) {
    cmd.push_back("--help");
    auto r = RunCommand([&] { auto v = cmd; v.insert(v.begin(), binary); return v; }());
    BOOST_TEST(r.exit_code == 0, cmd[0]);
    BOOST_TEST(r.out.find("Usage:") != std::string::npos, cmd[0]);
  }
}

// Each folder is optional ('-'): systemd would refuse to start the unit over one that does not
// exist yet.
BOOST_AUTO_TEST_CASE(systemd_drop_in_lists_every_synced_folder_as_optional) {
  WriteFile(dir / "connectors.d/a.yaml",
            "name: a\nprovider: git\nurl: file:///srv/remote.git\nsyncs:\n  - name: one\n    local: /srv/config/one\n"
            "  - name: two\n    local: /srv/config with space/two\n");
  auto r = Run({"systemd-drop-in"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("[Service]\nReadWritePaths=\"-/srv/config with space/two\"\nReadWritePaths=\"-/srv/config/one\"\n") !=
                 std::string::npos,
             r.out);
}

// The operator runs the CLI with sudo while the service (its own user) owns the state directory:
// what the CLI writes there must stay readable by the service.
BOOST_AUTO_TEST_CASE(root_cli_leaves_state_files_owned_by_the_state_dir_owner) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root to write as root into a folder another user owns");
    return;
  }
  const uid_t service_uid = 65534;  // nobody: stands in for the gitsyncd user
  const gid_t service_gid = 65534;
  WriteFile(dir / "gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nmaster_key: " + (dir / "master.key") + "\n");
  WriteFile(dir / "connectors.d/team.yaml",
            "name: team\nprovider: git\nurl: file:///srv/remote.git\nwebhook:\n  enabled: true\n"
            "syncs:\n  - name: one\n    local: " + (dir / "one") + "\n");
  fs::create_directories(dir / "state");
  BOOST_REQUIRE(::chown((dir / "state").c_str(), service_uid, service_gid) == 0);
  BOOST_REQUIRE(Run({"secret", "init"}).exit_code == 0);
  auto set = Run({"secret", "set", "token"}, "s3cret\n");
  BOOST_REQUIRE_MESSAGE(set.exit_code == 0, set.err);
  auto url = Run({"webhook-url", "team"});
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "state")) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(e.path().c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == service_uid, e.path() << " is owned by uid " << st.st_uid);
    BOOST_TEST((st.st_mode & 077) == 0u, e.path() << " is open to group or others");
    files += e.is_regular_file() ? 1 : 0;
  }
  BOOST_TEST(files >= 2u);  // the secret and the webhook token hash
  // The master key outside the state directory stays root's.
  struct stat key {};
  BOOST_REQUIRE(::stat((dir / "master.key").c_str(), &key) == 0);
  BOOST_TEST(key.st_uid == 0u);
}

BOOST_AUTO_TEST_CASE(version_is_printed) {
  auto r = RunCommand({binary, "--version"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("gitsyncd ") == 0u);
}

BOOST_AUTO_TEST_CASE(config_dir_comes_from_the_environment) {
  WriteFile(dir / "connectors.d/x.yaml", "name: x\nprovider: github\nurl: http://h/x.git\n");
  auto r = RunCommand({binary, "check-config"}, {{"GITSYNCD_CONFIG", dir.path()}});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find(dir.path() + "/connectors.d/x.yaml:3:6: url:") == 0u, r.err);
}

BOOST_AUTO_TEST_CASE(check_config_prints_each_bindings_effective_ignore_rules) {
  WriteFile(dir / "connectors.d/c.yaml",
            "name: c\nprovider: git\nurl: file:///srv/git/c.git\nignore: ['*.log']\nsyncs:\n"
            "  - name: web\n    local: /srv/web\n    ignore: ['!keep.log', 'cache/']\n"
            "  - name: raw\n    local: /srv/raw\n    ignore_defaults: false\n");
  auto r = Run({"check-config"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("    ignore:      18 rules, a later one winning; then the folder's .gitignore files\n"
                        "      .*.sw[a-p]               (default)\n") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("      #*#") == std::string::npos, r.out);
  BOOST_TEST(r.out.find("      \\#*#                     (default)\n") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("      *.log                    (connector)\n"
                        "      !keep.log                (sync)\n"
                        "      cache/                   (sync)\n") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("    ignore:      1 rule, a later one winning; then the folder's .gitignore files "
                        "(ignore_defaults: false)\n      *.log                    (connector)\n") != std::string::npos,
             r.out);
}

BOOST_AUTO_TEST_CASE(secret_commands_round_trip_and_never_show_values) {
  auto init = Run({"secret", "init"});
  BOOST_TEST(init.exit_code == 0, init.err);
  auto again = Run({"secret", "init"});
  BOOST_TEST(again.exit_code == 1);
  BOOST_TEST(again.err.find("gitsyncd: error: master key ") == 0u, again.err);
  BOOST_TEST(std::count(again.err.begin(), again.err.end(), '\n') == 1);

  const std::string value = "tok-VALUE-7f3a9c";
  auto set = Run({"--log-level", "trace", "secret", "set", "github-token"}, value + "\n");
  BOOST_TEST(set.exit_code == 0, set.err);
  BOOST_TEST(set.out.find(value) == std::string::npos);
  BOOST_TEST(set.err.find(value) == std::string::npos);
  BOOST_TEST(!TreeContains(dir.path(), value));

  auto list = Run({"secret", "list"});
  BOOST_TEST(list.exit_code == 0);
  BOOST_TEST(list.out == "github-token\n");

  // The stored secret resolves for check-config --secrets, which never prints it.
  WriteFile(dir / "connectors.d/c.yaml",
            "name: c\nprovider: github\nurl: https://github.com/a/b.git\nauth:\n  password: {secret: github-token}\n");
  auto check = Run({"check-config", "--secrets"});
  BOOST_TEST(check.exit_code == 0, check.err);
  BOOST_TEST(check.out.find("all secret references resolve") != std::string::npos);
  BOOST_TEST(check.out.find(value) == std::string::npos);

  auto rm = Run({"secret", "rm", "github-token"});
  BOOST_TEST(rm.exit_code == 0);
  auto missing = Run({"check-config", "--secrets"});
  BOOST_TEST(missing.exit_code == 1);
  BOOST_TEST(missing.err.find("auth.password: connector 'c': " + (dir / "connectors.d/c.yaml") +
                              ":5:13: secret 'github-token' is not in the store") == 0u, missing.err);
  BOOST_TEST(missing.err.find("secret 'github-token' is not in the store") != std::string::npos, missing.err);
  auto rm_again = Run({"secret", "rm", "github-token"});
  BOOST_TEST(rm_again.exit_code == 1);
}

// A relay key too short for the fleet relay's MAC (docs/fleet.md, "Relayed objects") is refused
// by check-config --secrets and by run, naming its file and line, before any etcd is contacted.
BOOST_AUTO_TEST_CASE(a_relay_key_under_32_bytes_is_refused_by_check_config_and_run_naming_its_line) {
  WriteFile(dir / "gitsyncd.yaml", "state_dir: " + (dir / "state") +
                                       "\ncluster:\n  endpoints: [http://127.0.0.1:1]\n  relay_key: {file: relay.key}\n");
  WriteFile(dir / "relay.key", "short-key-of-25-bytes-xyz");
  std::string where = dir / "gitsyncd.yaml:4:14: cluster.relay_key: the secret must be at least 32 bytes";
  auto check = Run({"check-config", "--secrets"});
  BOOST_TEST(check.exit_code == 1, check.err);
  BOOST_TEST(check.err.find(where) != std::string::npos, check.err);
  BOOST_TEST(check.err.find("short-key") == std::string::npos);
  auto run = Run({"run"});
  BOOST_TEST(run.exit_code == 1, run.err);
  BOOST_TEST(run.err.find(where) != std::string::npos, run.err);
  WriteFile(dir / "relay.key", std::string(48, 'k'));
  auto fixed = Run({"check-config", "--secrets"});
  BOOST_TEST(fixed.exit_code == 0, fixed.err);
}

BOOST_AUTO_TEST_CASE(secret_set_refuses_empty_input_and_bad_names) {
  BOOST_REQUIRE(Run({"secret", "init"}).exit_code == 0);
  auto empty = Run({"secret", "set", "x"}, "");
  BOOST_TEST(empty.exit_code == 1);
  BOOST_TEST(empty.err == "gitsyncd: error: no value on stdin; secret 'x' not changed\n");
  auto bad = Run({"secret", "set", "../x"}, "v");
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err.find("invalid secret name '../x'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(secret_commands_without_a_key_say_how_to_create_it) {
  auto r = Run({"secret", "list"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err == "gitsyncd: error: master key " + (dir / "state/master.key") +
                          " does not exist (create it with `gitsyncd secret init`)\n");
}

BOOST_AUTO_TEST_SUITE_END()
