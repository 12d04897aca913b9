// Crash safety: `gitsyncd run` is killed with SIGKILL at random moments (fixed seed, bounded
// loop) while a person pushes to the remote and files change in the local folder. After a
// final restart everything converges: no edit is lost on either side, and `git fsck` is clean
// on the remote and on the daemon's own repository.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <cstring>
#include <random>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kRounds = 30;
constexpr unsigned kSeed = 20261124;

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_safety)

BOOST_AUTO_TEST_CASE(kill_9_at_random_points_loses_no_edit_and_leaves_clean_repositories) {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string remote = dir / "remote.git";
  std::string local = dir / "local";
  std::string cfg = dir / "etc";
  InitBareRepo(remote);
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nlog_level: debug\n");
  WriteFile(cfg + "/connectors.d/c.yaml", "name: crashy\nprovider: git\nurl: file://" + remote +
                                              "\nsyncs:\n  - name: crashy\n    path: cfg\n    local: " + local + "\n");
  GitClone person("file://" + remote, dir / "person");
  person.Write("cfg/seed.txt", "seed\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));

  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int> delay_ms(0, 400);
  std::map<std::string, std::string> expect_remote;  // written locally: must reach the remote
  std::map<std::string, std::string> expect_local;   // pushed remotely: must reach the folder
  for (int round = 0; round < kRounds; ++round) {
    DaemonProcess daemon(binary, cfg, dir.path());
    std::string n = std::to_string(round);
    // Local side: a new file, and a rewrite of an earlier local file.
    WriteFile(local + "/local-" + n + ".txt", "L" + n + "\n");
    expect_remote["cfg/local-" + n + ".txt"] = "L" + n + "\n";
    if (round >= 2) {
      std::string old = std::to_string(round - 2);
      WriteFile(local + "/local-" + old + ".txt", "L" + old + " rewritten in round " + n + "\n");
      expect_remote["cfg/local-" + old + ".txt"] = "L" + old + " rewritten in round " + n + "\n";
    }
    // Remote side: a person pushes (pulling first when the daemon pushed in between).
    person.Write("cfg/remote-" + n + ".txt", "R" + n + "\n");
    expect_local["remote-" + n + ".txt"] = "R" + n + "\n";
    Git({"add", "--all"}, person.dir());
    Git({"commit", "--quiet", "-m", "remote round " + n}, person.dir());
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (Git({"push", "--quiet", "origin", "HEAD:refs/heads/main"}, person.dir(), {}, true).exit_code == 0) break;
      Git({"pull", "--quiet", "--no-rebase", "--no-edit", "origin", "main"}, person.dir());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    daemon.Kill();
  }

  // Final run: everything converges.
  DaemonProcess daemon(binary, cfg, dir.path());
  BOOST_REQUIRE(daemon.WaitForNotify("READY=1"));
  auto converged = [&] {
    for (const auto& [path, text] : expect_remote) {
      if (ShowFile(remote, "main", path) != text) return false;
    }
    for (const auto& [path, text] : expect_local) {
      if (!FileExists(local + "/" + path) || ReadFile(local + "/" + path) != text) return false;
    }
    return true;
  };
  bool ok = WaitFor(converged, 60s);
  for (const auto& [path, text] : expect_remote) BOOST_TEST(ShowFile(remote, "main", path) == text, path);
  for (const auto& [path, text] : expect_local) {
    BOOST_TEST((FileExists(local + "/" + path) && ReadFile(local + "/" + path) == text), path);
  }
  BOOST_TEST(ok, daemon.Log().substr(daemon.Log().size() > 4000 ? daemon.Log().size() - 4000 : 0));
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  // No staging folder left behind in the folder.
  for (const auto& e : fs::recursive_directory_iterator(local)) {
    BOOST_TEST(e.path().filename().string().rfind(".gitsyncd-staging-", 0) != 0u, e.path().string());
  }
  CommandResult fsck_remote = Git({"--git-dir", remote, "fsck", "--strict"}, "", {}, true);
  BOOST_TEST(fsck_remote.exit_code == 0, fsck_remote.out + fsck_remote.err);
  CommandResult fsck_state = Git({"--git-dir", dir / "state/bindings/crashy/repo", "fsck"}, "", BindingRepoEnv(dir / "state"), true);
  BOOST_TEST(fsck_state.exit_code == 0, fsck_state.out + fsck_state.err);
}

// The temporary files of a fetch being written into a shared store ("": none).
std::string FetchInFlight(const std::string& state) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(state + "/remotes", ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().find("_git2_") != std::string::npos) return it->path().string();
  }
  return "";
}

BOOST_AUTO_TEST_CASE(kill_9_during_a_shared_fetch_loses_nothing_and_the_next_run_finishes_it) {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string remote = dir / "remote.git", cfg = dir / "etc", state = dir / "state";
  InitBareRepo(remote);
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + state + "\n");
  WriteFile(cfg + "/connectors.d/c.yaml", "name: shared\nprovider: git\nurl: file://" + remote +
                                              "\nsyncs:\n  - name: a\n    path: a\n    local: " + (dir / "a") +
                                              "\n  - name: b\n    path: b\n    local: " + (dir / "b") + "\n");
  GitClone person("file://" + remote, dir / "person");
  person.Write("a/seed.txt", "seed a\n");
  person.Write("b/seed.txt", "seed b\n");
  // Incompressible data elsewhere in the repository: the fetch takes long enough to be caught.
  std::mt19937_64 rng(kSeed);
  std::string noise(24 << 20, '\0');
  for (size_t i = 0; i + 8 <= noise.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&noise[i], &v, 8);
  }
  person.Write("data/noise.bin", noise);
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  // Local edits waiting in both folders before the first sync.
  WriteFile(dir / "a/local.txt", "local a\n");
  WriteFile(dir / "b/local.txt", "local b\n");

  int caught = 0;
  for (int round = 0; round < 3; ++round) {
    DaemonProcess daemon(binary, cfg, dir.path());
    if (WaitFor([&] { return !FetchInFlight(state).empty(); }, 20s, 1ms)) ++caught;
    daemon.Kill();
    daemon.Wait();
  }
  BOOST_TEST(caught >= 1, "no run was caught while its fetch was being written");

  DaemonProcess daemon(binary, cfg, dir.path());
  BOOST_REQUIRE(daemon.WaitForNotify("READY=1"));
  auto converged = [&] {
    return FileExists(dir / "a/seed.txt") && FileExists(dir / "b/seed.txt") &&
           ShowFile(remote, "main", "a/local.txt") == "local a\n" && ShowFile(remote, "main", "b/local.txt") == "local b\n";
  };
  BOOST_TEST(WaitFor(converged, 60s), daemon.Log());
  BOOST_TEST(ReadFile(dir / "a/seed.txt") == "seed a\n");
  BOOST_TEST(ReadFile(dir / "a/local.txt") == "local a\n");
  BOOST_TEST(!FileExists(dir / "a/data"));
  // The first fetch of this run cleared what the killed ones left (checked while it runs: a
  // stop may itself interrupt a fetch, whose leftovers the next run clears).
  BOOST_TEST(WaitFor([&] { return FetchInFlight(state).empty(); }, 10s), FetchInFlight(state));
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  for (const auto& e : fs::directory_iterator(state + "/remotes")) {
    CommandResult fsck = Git({"--git-dir", e.path().string(), "fsck"}, "", {}, true);
    BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
  }
  for (const char* b : {"a", "b"}) {
    CommandResult fsck = Git({"--git-dir", state + "/bindings/" + b + "/repo", "fsck"}, "", BindingRepoEnv(state), true);
    BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()
