// The engine that runs bindings: debounce, parallel bindings, backoff, sync-now.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <thread>

#include "sync/binding_state.h"
#include "sync/sync_engine.h"
#include "tests/support/git_cli.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct EngineFixture {
  TempDir dir;
  Config config;

  SyncBinding& AddBinding(const std::string& name) {
    InitBareRepo(dir / (name + ".git"));
    ConnectorConfig c;
    c.name = "conn-" + name;
    c.url = "file://" + (dir / (name + ".git"));
    c.commit_author = {"Engine Bot", "engine@example.com"};
    SyncBinding s;
    s.name = name;
    s.branch = "main";
    s.local = dir / ("local-" + name);
    s.remote_url = c.url;
    c.syncs.push_back(s);
    config.connectors.push_back(c);
    return config.connectors.back().syncs.back();
  }

  std::unique_ptr<SyncEngine> Engine(EngineOptions o = {}) {
    config.daemon.state_dir = dir / "state";
    if (o.debounce_quiet == EngineOptions{}.debounce_quiet) o.debounce_quiet = 200ms;
    return std::make_unique<SyncEngine>(
        config,
        [](const ConnectorConfig&, const SyncBinding& s) -> Result<RemoteCredentials> {
          RemoteCredentials r;
          r.url = s.remote_url;
          return r;
        },
        o);
  }

  int CommitCount(const std::string& name) {
    auto r = Git({"--git-dir", dir / (name + ".git"), "rev-list", "--count", "main"}, "", {}, true);
    return r.exit_code == 0 ? std::stoi(r.out) : 0;
  }

  // Polls until `pred` holds (bounded).
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds limit = 15s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return pred();
  }
};

// Descriptors of this process that are inotify instances.
int InotifyInstances() {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec).string() == "anon_inode:inotify") ++n;
  }
  return n;
}

void WriteHook(const std::string& repo, const std::string& hook, const std::string& body) {
  std::string path = repo + "/hooks/" + hook;
  WriteFile(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_engine, EngineFixture)

BOOST_AUTO_TEST_CASE(a_burst_of_local_writes_becomes_one_commit) {
  AddBinding("burst");
  WriteFile(dir / "local-burst/seed.txt", "seed\n");
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return CommitCount("burst") == 1; }));
  for (int i = 0; i < 10; ++i) {
    WriteFile(dir / ("local-burst/f" + std::to_string(i) + ".yaml"), "n: " + std::to_string(i) + "\n");
    std::this_thread::sleep_for(10ms);
  }
  BOOST_REQUIRE(WaitFor([&] { return !ShowFile(dir / "burst.git", "main", "f9.yaml").empty(); }));
  std::this_thread::sleep_for(500ms);  // anything else queued would have run by now
  BOOST_TEST(CommitCount("burst") == 2);
  BOOST_TEST(ShowFile(dir / "burst.git", "main", "f0.yaml") == "n: 0\n");
}

// The operator API asks with no wait; a pause or resume asked while the previous one is being
// written to state.json must still reach it, and a caller that waits returns only once its
// own request is on disk.
BOOST_AUTO_TEST_CASE(a_pause_asked_while_the_last_one_is_being_saved_is_saved_too) {
  AddBinding("toggle");
  WriteFile(dir / "local-toggle/seed.txt", "seed\n");
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return CommitCount("toggle") == 1; }));
  std::string state_dir = BindingStateDir(config.daemon, "toggle");
  auto on_disk = [&] { return LoadBindingState(state_dir).value().paused; };
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 20; ++i) {
      BOOST_REQUIRE(engine->SetPaused("toggle", i % 2 == 0, 0ms).ok());
      std::this_thread::sleep_for(std::chrono::microseconds(50 * (i % 7)));
    }
    bool last = round % 2 == 0;
    BOOST_REQUIRE(engine->SetPaused("toggle", last, 0ms).ok());
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return on_disk() == last; }, 3s), "round " << round << ": state.json says "
                                                                                   << (last ? "resumed" : "paused"));
    BOOST_REQUIRE(engine->SetPaused("toggle", !last, 0ms).ok());
    BOOST_REQUIRE(engine->SetPaused("toggle", last, 5s).ok());
    BOOST_REQUIRE_MESSAGE(on_disk() == last, "round " << round << ": SetPaused returned before its request was saved");
  }
}

// Passes finished by `binding` since the engine started.
uint64_t Passes(SyncEngine& engine, const std::string& binding) {
  for (const auto& s : engine.Snapshot()) {
    if (s.name == binding) return s.passes;
  }
  return 0;
}

// The periodic rescan is the safety net behind inotify; a folder the watcher saw whole since
// its last pass is scanned by it only every watched_rescan_interval, which keeps the idle CPU
// of thousands of bindings small. The same folder with a short watched interval is rescanned,
// so the first half would fail if the rescan ran regardless.
BOOST_AUTO_TEST_CASE(a_folder_the_watcher_sees_whole_is_rescanned_only_every_watched_interval) {
  AddBinding("quiet");
  WriteFile(dir / "local-quiet/seed.txt", "seed\n");
  for (auto watched_interval : {std::chrono::seconds(3600), std::chrono::seconds(1)}) {
    EngineOptions o;
    o.rescan_interval = 1s;
    o.watched_rescan_interval = watched_interval;
    auto engine = Engine(o);
    BOOST_REQUIRE(engine->Start().ok());
    BOOST_REQUIRE(WaitFor([&] { return CommitCount("quiet") >= 1 && Passes(*engine, "quiet") >= 1; }));
    std::this_thread::sleep_for(500ms);  // the first pass's own writes settle
    int commits = CommitCount("quiet");
    uint64_t before = Passes(*engine, "quiet");
    std::this_thread::sleep_for(3500ms);  // three rescans
    uint64_t after = Passes(*engine, "quiet");
    if (watched_interval.count() == 3600) {
      BOOST_TEST(after == before, "a watched folder was rescanned " << after - before << " times in 3.5 s");
    } else {
      BOOST_TEST(after >= before + 2, "a short watched interval rescanned " << after - before << " times in 3.5 s");
    }
    // An edit still syncs at once: the watcher, not the rescan, brings it.
    WriteFile(dir / ("local-quiet/edit-" + std::to_string(watched_interval.count()) + ".txt"), "x\n");
    BOOST_TEST(WaitFor([&] { return CommitCount("quiet") == commits + 1; }, 5s));
    engine->Stop();
  }
}

BOOST_AUTO_TEST_CASE(bindings_sync_in_parallel) {
  // Remote A accepts a push only once remote B has received one: with bindings serialized
  // behind each other this would time out.
  AddBinding("a");
  AddBinding("b");
  std::string marker = dir / "b-received";
  WriteHook(dir / "a.git", "pre-receive",
            "i=0; while [ $i -lt 100 ]; do [ -f " + marker + " ] && exit 0; sleep 0.1; i=$((i+1)); done; exit 1\n");
  WriteHook(dir / "b.git", "post-receive", "touch " + marker + "\n");
  WriteFile(dir / "local-a/x.txt", "a\n");
  WriteFile(dir / "local-b/y.txt", "b\n");
  EngineOptions o;
  o.workers = 2;
  auto engine = Engine(o);
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_TEST(WaitFor([&] { return CommitCount("a") == 1 && CommitCount("b") == 1; }));
}

BOOST_AUTO_TEST_CASE(unreachable_remote_backs_off_and_pushes_once_it_is_back) {
  AddBinding("flaky");
  fs::rename(dir / "flaky.git", dir / "flaky.git.away");
  WriteFile(dir / "local-flaky/edit.txt", "made while the remote was gone\n");
  EngineOptions o;
  o.backoff_initial = 200ms;
  auto engine = Engine(o);
  BOOST_REQUIRE(engine->Start().ok());
  std::this_thread::sleep_for(2500ms);
  auto snap = engine->Snapshot();
  BOOST_REQUIRE_EQUAL(snap.size(), 1u);
  // 200 + 400 + 800 + 1600 ms of backoff (with jitter): a handful of attempts, not a busy loop.
  BOOST_TEST(snap[0].passes >= 2u);
  BOOST_TEST(snap[0].passes <= 7u);
  BOOST_TEST(snap[0].failures == snap[0].passes);
  BOOST_TEST(!snap[0].last_error.empty());
  fs::rename(dir / "flaky.git.away", dir / "flaky.git");
  BOOST_TEST(WaitFor([&] { return ShowFile(dir / "flaky.git", "main", "edit.txt") == "made while the remote was gone\n"; }));
}

BOOST_AUTO_TEST_CASE(sync_now_runs_a_pass_and_reports_its_outcome) {
  AddBinding("now");
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  GitClone person("file://" + (dir / "now.git"), dir / "person");
  person.Write("remote.txt", "from remote\n");
  BOOST_REQUIRE(person.CommitAndPush("remote"));
  auto r = engine->SyncNow("now", 10s);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(ReadFile(dir / "local-now/remote.txt") == "from remote\n");
  BOOST_TEST(engine->SyncNow("nope", 1s).status().message() == "no sync binding named 'nope'");
}

// Webhook deliveries for one binding at thousands a second: they coalesce into fetches kept
// remote_rerun_gap apart (not back to back), and a push announced last is still fetched.
BOOST_AUTO_TEST_CASE(a_flood_of_remote_triggers_becomes_spaced_fetches) {
  AddBinding("flood");
  EngineOptions o;
  o.remote_rerun_gap = 100ms;
  auto engine = Engine(o);
  BOOST_REQUIRE(engine->Start().ok());
  auto idle = [&] { return engine->Snapshot()[0].passes >= 1 && !engine->Snapshot()[0].running && !engine->Snapshot()[0].queued; };
  BOOST_REQUIRE(WaitFor(idle));
  uint64_t before = engine->Snapshot()[0].passes;
  GitClone person("file://" + (dir / "flood.git"), dir / "person");
  auto start = std::chrono::steady_clock::now();
  int triggers = 0;
  while (std::chrono::steady_clock::now() - start < 1s) {
    BOOST_REQUIRE(engine->TriggerRemote("flood", "test"));
    ++triggers;
    std::this_thread::sleep_for(200us);
  }
  // The last delivery announces a push that happened after all the others.
  person.Write("last.txt", "last\n");
  BOOST_REQUIRE(person.CommitAndPush("last"));
  BOOST_REQUIRE(engine->TriggerRemote("flood", "test"));
  BOOST_REQUIRE(WaitFor([&] { return FileExists(dir / "local-flood/last.txt"); }));
  BOOST_TEST(ReadFile(dir / "local-flood/last.txt") == "last\n");
  BOOST_REQUIRE(WaitFor(idle));
  uint64_t passes = engine->Snapshot()[0].passes - before;
  BOOST_TEST_MESSAGE(triggers << " triggers, " << passes << " passes");
  BOOST_TEST(triggers > 1000);
  // One pass at once, then at most one per 100 ms gap (plus the one for the last push).
  BOOST_TEST(passes >= 2u);
  BOOST_TEST(passes <= 14u);
}

BOOST_AUTO_TEST_CASE(after_the_first_pass_edits_are_decided_from_the_watched_paths) {
  AddBinding("inc");
  WriteFile(dir / "local-inc/keep/a.yaml", "a: 1\n");
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return CommitCount("inc") == 1; }));
  BOOST_REQUIRE(WaitFor([&] { return engine->Snapshot()[0].passes >= 1 && !engine->Snapshot()[0].running; }));
  BOOST_TEST(!engine->Snapshot()[0].last_pass_incremental);  // the first pass scans everything

  WriteFile(dir / "local-inc/keep/a.yaml", "a: 2\n");
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(dir / "inc.git", "main", "keep/a.yaml") == "a: 2\n"; }));
  BOOST_REQUIRE(WaitFor([&] { return !engine->Snapshot()[0].running; }));
  BOOST_TEST(engine->Snapshot()[0].last_pass_incremental);

  // A folder created with files in it: the watcher reports the folder, the pass reads it whole.
  fs::create_directories(dir / "tmp-made/deep");
  WriteFile(dir / "tmp-made/deep/b.txt", "bee\n");
  WriteFile(dir / "local-inc/c.txt", "sea\n");
  fs::rename(dir / "tmp-made", dir / "local-inc/made");  // arrives whole, as one event
  BOOST_TEST(WaitFor([&] {
    return ShowFile(dir / "inc.git", "main", "made/deep/b.txt") == "bee\n" &&
           ShowFile(dir / "inc.git", "main", "c.txt") == "sea\n";
  }));

  // A remote push through sync-now is applied from the changed subtrees.
  GitClone person("file://" + (dir / "inc.git"), dir / "person");
  person.Write("keep/a.yaml", "a: remote\n");
  BOOST_REQUIRE(person.CommitAndPush("remote"));
  auto r = engine->SyncNow("inc", 10s);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(ReadFile(dir / "local-inc/keep/a.yaml") == "a: remote\n");
}

// direction: pull is watched too: a remote push is applied from the changed paths, and a local
// edit starts no pass (nothing is pushed); the next remote pass keeps it in the folder.
BOOST_AUTO_TEST_CASE(a_pull_binding_is_watched_for_its_remote_passes_and_its_local_edits_start_no_pass) {
  AddBinding("pl").direction = SyncDirection::kPull;
  GitClone person("file://" + (dir / "pl.git"), dir / "person");
  person.Write("a.yaml", "a: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return FileExists(dir / "local-pl/a.yaml") && !engine->Snapshot()[0].running; }));
  BOOST_TEST(!engine->Snapshot()[0].last_pass_incremental);  // the first pass scans everything
  std::this_thread::sleep_for(1s);  // the events of the pass's own writes have come and gone

  // As a webhook does (sync-now always scans in full).
  auto pulled = [&](const std::string& text) {
    return ReadFile(dir / "local-pl/a.yaml") == text && !engine->Snapshot()[0].running && !engine->Snapshot()[0].queued;
  };
  person.Write("a.yaml", "a: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("remote 2"));
  BOOST_REQUIRE(engine->TriggerRemote("pl", "webhook"));
  BOOST_REQUIRE(WaitFor([&] { return pulled("a: 2\n"); }));
  BOOST_TEST(engine->Snapshot()[0].last_pass_incremental);
  // That pull replaced a.yaml through a staging folder it made and removed in the folder: the
  // watcher still saw every change, so the next one is incremental too.
  std::this_thread::sleep_for(1s);
  person.Write("a.yaml", "a: 2b\n");
  BOOST_REQUIRE(person.CommitAndPush("remote 2b"));
  BOOST_REQUIRE(engine->TriggerRemote("pl", "webhook"));
  BOOST_REQUIRE(WaitFor([&] { return pulled("a: 2b\n"); }));
  BOOST_TEST(engine->Snapshot()[0].last_pass_incremental);

  uint64_t passes = engine->Snapshot()[0].passes;
  WriteFile(dir / "local-pl/mine.txt", "local only\n");
  std::this_thread::sleep_for(1s);  // past the 200 ms debounce
  BOOST_TEST(engine->Snapshot()[0].passes == passes);  // no pass for a local edit

  person.Write("a.yaml", "a: 3\n");
  BOOST_REQUIRE(person.CommitAndPush("remote 3"));
  BOOST_REQUIRE(engine->TriggerRemote("pl", "webhook"));
  BOOST_REQUIRE(WaitFor([&] { return pulled("a: 3\n"); }));
  BOOST_TEST(!engine->Snapshot()[0].last_pass_incremental);  // the full pass keeps the edit
  BOOST_TEST(ReadFile(dir / "local-pl/mine.txt") == "local only\n");
  BOOST_TEST(ShowFile(dir / "pl.git", "main", "mine.txt").empty());
  BOOST_TEST(CommitCount("pl") == 4);
}

BOOST_AUTO_TEST_CASE(a_folder_moved_inside_the_synced_folder_is_synced_under_its_new_name) {
  AddBinding("mv");
  WriteFile(dir / "local-mv/old/sub/x.txt", "x\n");
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(dir / "mv.git", "main", "old/sub/x.txt") == "x\n"; }));
  fs::rename(dir / "local-mv/old", dir / "local-mv/new");
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(dir / "mv.git", "main", "new/sub/x.txt") == "x\n"; }));
  BOOST_TEST(ShowFile(dir / "mv.git", "main", "old/sub/x.txt").empty());
  // The watches moved with the folder: an edit inside it now lands under the new name.
  BOOST_REQUIRE(WaitFor([&] { return !engine->Snapshot()[0].running && !engine->Snapshot()[0].queued; }));
  WriteFile(dir / "local-mv/new/sub/x.txt", "edited after the move\n");
  BOOST_TEST(WaitFor([&] { return ShowFile(dir / "mv.git", "main", "new/sub/x.txt") == "edited after the move\n"; }));
  // The push lands before the pass ends: wait for its outcome.
  BOOST_REQUIRE(WaitFor([&] { return !engine->Snapshot()[0].running && !engine->Snapshot()[0].queued; }));
  BOOST_TEST(engine->Snapshot()[0].last_pass_incremental);
}

BOOST_AUTO_TEST_CASE(a_burst_of_thousands_of_paths_is_synced_by_a_full_scan) {
  AddBinding("many");
  WriteFile(dir / "local-many/seed.txt", "seed\n");
  EngineOptions o;
  o.debounce_quiet = 3s;  // the writes below are one burst, however slow the machine
  o.debounce_max = 60s;
  auto engine = Engine(o);
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return CommitCount("many") == 1; }));
  // More paths than the watcher keeps for one burst: it reports "scan everything" instead.
  for (int i = 0; i < 5100; ++i) WriteFile(dir / ("local-many/f" + std::to_string(i) + ".txt"), std::to_string(i));
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(dir / "many.git", "main", "f5099.txt") == "5099"; }, 60s));
  BOOST_TEST(ShowFile(dir / "many.git", "main", "f0.txt") == "0");
  BOOST_REQUIRE(WaitFor([&] { return !engine->Snapshot()[0].running && !engine->Snapshot()[0].queued; }));
  BOOST_TEST(!engine->Snapshot()[0].last_pass_incremental);
  BOOST_TEST(CommitCount("many") == 2);
}

BOOST_AUTO_TEST_CASE(forty_bindings_share_one_inotify_instance_and_each_sees_its_edits) {
  const int kBindings = 40;
  for (int i = 0; i < kBindings; ++i) {
    AddBinding("w" + std::to_string(i));
    WriteFile(dir / ("local-w" + std::to_string(i) + "/sub/seed.txt"), "seed\n");
  }
  int before = InotifyInstances();
  EngineOptions o;
  o.workers = 2;
  auto engine = Engine(o);
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_TEST(InotifyInstances() - before == 1);
  BOOST_REQUIRE(WaitFor([&] {
    for (int i = 0; i < kBindings; ++i) {
      if (CommitCount("w" + std::to_string(i)) != 1) return false;
    }
    return true;
  }, 60s));
  // An edit in a subfolder of the first and of the last binding reaches only its own remote.
  WriteFile(dir / "local-w0/sub/edit.txt", "zero\n");
  WriteFile(dir / ("local-w" + std::to_string(kBindings - 1) + "/sub/edit.txt"), "last\n");
  BOOST_TEST(WaitFor([&] {
    return ShowFile(dir / "w0.git", "main", "sub/edit.txt") == "zero\n" &&
           ShowFile(dir / ("w" + std::to_string(kBindings - 1) + ".git"), "main", "sub/edit.txt") == "last\n";
  }));
  BOOST_TEST(CommitCount("w1") == 1);
  BOOST_TEST(InotifyInstances() - before == 1);
}

BOOST_AUTO_TEST_SUITE_END()
