// Bindings on one remote share one object store and one fetch per trigger (docs/sync.md,
// "Shared object stores"), against the nginx HTTPS server: its access log counts the fetches.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include "sync/binding_state.h"
#include "sync/pass_context.h"
#include "sync/repo_maintenance.h"
#include "sync/shared_store.h"
#include "sync/sync_engine.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kBindings = 4;

struct SharedFixture {
  TempDir dir;
  GitHttpsServer server;
  Config config;

  SharedFixture() {
    server.CreateBareRepo("cfg");
    BOOST_REQUIRE(ConfigureTls(server.ca_file()).ok());
    config.daemon.state_dir = dir / "state";
    ConnectorConfig c;
    c.name = "team";
    c.url = server.url("cfg");
    c.commit_author = {"Engine Bot", "engine@example.com"};
    for (int i = 0; i < kBindings; ++i) {
      SyncBinding s;
      s.name = "b" + std::to_string(i);
      s.branch = "main";
      s.path = "apps/a" + std::to_string(i);
      s.local = dir / ("local/" + s.name);
      s.remote_url = c.url;
      c.syncs.push_back(s);
    }
    config.connectors.push_back(c);
  }

  std::unique_ptr<SyncEngine> Engine() {
    EngineOptions o;
    o.workers = 4;
    o.workers_per_remote = 4;
    o.debounce_quiet = 200ms;
    return std::make_unique<SyncEngine>(
        config,
        [this](const ConnectorConfig&, const SyncBinding& s) -> Result<RemoteCredentials> {
          RemoteCredentials r;
          r.url = s.remote_url;
          r.username = server.user();
          r.password = server.password();
          return r;
        },
        o);
  }

  // Fetches gitsyncd made (not the person's git CLI): ref advertisements of git-upload-pack.
  int Fetches() const { return Requests("GET", "info/refs?service=git-upload-pack"); }
  // Pushes gitsyncd sent: the POSTs that carry a push's commands and pack.
  int Pushes() const { return Requests("POST", "/git-receive-pack"); }
  int Requests(const std::string& method, const std::string& what) const {
    std::istringstream in(server.access_log());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (line.find("\"" + method + " ") != std::string::npos && line.find(what) != std::string::npos &&
          line.find("\" 200 ") != std::string::npos && line.find("libgit2") != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  // The person pushes v.yaml = "v: 1" into every folder; the engine runs, every folder holds
  // it and the first passes are over.
  std::unique_ptr<SyncEngine> SeededAndSettled(GitClone& person) {
    WriteEveryFolder(person, "v: 1\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    auto engine = Engine();
    BOOST_REQUIRE(engine->Start().ok());
    BOOST_REQUIRE(WaitFor([&] { return AllHold("v: 1\n"); }, std::chrono::milliseconds(30s)));
    BOOST_REQUIRE(WaitFor([&] { return Idle(*engine); }, std::chrono::milliseconds(30s)));
    std::this_thread::sleep_for(1s);  // the passes our own writes started have ended
    return engine;
  }

  // No pass runs or waits.
  static bool Idle(SyncEngine& engine) {
    for (const auto& b : engine.Snapshot()) {
      if (b.running || b.queued) return false;
    }
    return true;
  }

  std::string OnRemote(const std::string& path) const { return ShowFile(server.repo_path("cfg"), "main", path); }

  std::string Local(int i, const std::string& file) const {
    std::string path = dir / ("local/b" + std::to_string(i) + "/" + file);
    return FileExists(path) ? ReadFile(path) : "";
  }

  // Every binding's folder holds v.yaml = `text`.
  bool AllHold(const std::string& text) const {
    for (int i = 0; i < kBindings; ++i) {
      if (Local(i, "v.yaml") != text) return false;
    }
    return true;
  }

  std::string BindingDir(int i) const { return config.daemon.state_dir + "/bindings/b" + std::to_string(i); }
  std::string StoreDir() const { return SharedStoreDir(config.daemon.state_dir, server.url("cfg")); }

  // An engine started once every folder holds v.yaml = `text`.
  std::unique_ptr<SyncEngine> StartAndPull(const std::string& text) {
    auto engine = Engine();
    BOOST_REQUIRE(engine->Start().ok());
    BOOST_REQUIRE(WaitFor([&] { return AllHold(text); }, std::chrono::milliseconds(30s)));
    std::this_thread::sleep_for(1s);  // the passes our own writes started have ended
    return engine;
  }

  // The person pushes v.yaml = "v: 1" into every folder; an engine pulls it and is stopped.
  void SeedPullAndStop(GitClone& person) {
    WriteEveryFolder(person, "v: 1\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    StartAndPull("v: 1\n")->Stop();
  }

  // Binding i's folder gets v.yaml = `text`; once the branch holds it, the engine is stopped.
  void EditAndWaitPushed(SyncEngine& engine, int i, const std::string& text) {
    WriteFile(dir / ("local/b" + std::to_string(i) + "/v.yaml"), text);
    std::string path = "apps/a" + std::to_string(i) + "/v.yaml";
    BOOST_REQUIRE(WaitFor([&] { return ShowFile(server.repo_path("cfg"), "main", path) == text; },
                          std::chrono::milliseconds(30s)));
    std::this_thread::sleep_for(1500ms);  // the pass's bookkeeping and the one our write started
    engine.Stop();
  }

  // Every binding's state is a few blocks and its repository valid to git.
  void CheckSmallAndValid(int edited) const;

  // The person writes v.yaml = `text` into every binding's folder (not committed yet).
  void WriteEveryFolder(GitClone& person, const std::string& text) {
    for (int i = 0; i < kBindings; ++i) person.Write("apps/a" + std::to_string(i) + "/v.yaml", text);
  }
};

// What `du` counts under `dir` (blocks on disk, folders included), and how many entries.
struct DiskCount {
  uint64_t kib = 0;
  size_t entries = 0;
};
DiskCount CountDisk(const std::string& dir) {
  DiskCount c;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    c.kib += static_cast<uint64_t>(st.st_blocks) / 2;
    ++c.entries;
  }
  return c;
}

// What a binding's state dir held before the store was attached at open time: the
// repository's objects/info/alternates naming the store and its config with the ignore
// settings, and the spare inode of state.json's atomic rewrite.
void MakePreviousLayout(const std::string& binding_dir, const std::string& store) {
  std::string repo = binding_dir + "/repo";
  WriteFile(repo + "/objects/info/alternates", fs::absolute(store + "/objects").string() + "\n");
  WriteFile(repo + "/config", "[core]\n\texcludesFile = " + repo + "/no-global-excludes\n\tignoreCase = false\n");
  fs::copy_file(binding_dir + "/state.json", binding_dir + "/state.json.tmp", fs::copy_options::overwrite_existing);
}

// The migration's steps, in order (sync/pass_recovery.cpp): a kill between two leaves the
// first ones done.
const std::vector<std::string> kMigrationSteps = {"repo/objects/info/alternates", "repo/objects/info", "repo/config"};

// What a binding's state held before its repository was made minimal: git_repository_init's
// template, the refs the store also keeps, and the ignore matcher's own config folder.
void MakeOlderLayout(const std::string& binding_dir, const std::string& head, const std::string& store) {
  MakePreviousLayout(binding_dir, store);
  std::string repo = binding_dir + "/repo";
  WriteFile(repo + "/description", "Unnamed repository; edit this file 'description' to name the repository.\n");
  WriteFile(repo + "/hooks/README.sample", "#!/bin/sh\n");
  WriteFile(repo + "/info/exclude", "# git ls-files --others --exclude-from=.git/info/exclude\n");
  fs::create_directories(repo + "/refs/heads");
  fs::create_directories(repo + "/refs/tags");
  fs::create_directories(repo + "/objects/pack");
  WriteFile(repo + "/config", "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n");
  WriteFile(repo + "/refs/remotes/origin/main", head + "\n");
  WriteFile(repo + "/refs/gitsyncd/synced", head + "\n");
  WriteFile(binding_dir + "/ignore/config", "[core]\n\tignoreCase = false\n");
  fs::create_directories(binding_dir + "/ignore/view");
}

// Every entry under `dir`, relative to it.
std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.insert(fs::relative(it->path(), dir).string());
  }
  return out;
}

// The staging record (sync/folder_staging.cpp) is there once a pull replaced or deleted a
// file, kept between pulls; at rest it names no staging folder.
bool HasIdleStagingRecord(const std::string& dir) {
  std::string record = dir + "/staging";
  if (!FileExists(record)) return false;
  std::string line = ReadFile(record);
  BOOST_TEST(line.find_first_not_of(" \n") == std::string::npos, dir << ": " << line);
  return true;
}

// The names in a binding's state dir but its scan cache and staging record (see kPulledListing).
std::set<std::string> StateListing(const std::string& dir) {
  std::set<std::string> out = Listing(dir);
  out.erase("scan-cache");
  if (HasIdleStagingRecord(dir)) out.erase("staging");
  return out;
}

// A binding's state dir on a store after a pull (docs/sync.md, "What a binding costs on disk").
// A binding's state dir after a pull, its scan cache left out: that file appears only once a
// full scan saw files to cache (a pass decided from the watcher's paths writes none).
const std::set<std::string> kPulledListing = {"repo", "repo/HEAD", "repo/objects", "repo/refs", "state.json"};

void SharedFixture::CheckSmallAndValid(int edited) const {
  for (int i = 0; i < kBindings; ++i) {
    DiskCount c = CountDisk(BindingDir(i));
    // Pulled only: state.json, scan-cache, and the repository's HEAD, objects/, refs/ (the
    // listing: a_bindings_state_dir_on_a_store_holds_only_...), and the staging record once
    // a pull replaced a file. The edited one also holds its commit's objects until a fetch
    // brings them into the store and the maintenance drops them, and the ref its push went
    // out from.
    unsigned record = HasIdleStagingRecord(BindingDir(i)) ? 1 : 0;
    BOOST_TEST(c.kib <= (i == edited ? 88u : 24u) + 4 * record, "b" << i << ": " << c.kib << " KiB");
    BOOST_TEST(c.entries <= (i == edited ? 22u : 6u) + record, "b" << i << ": " << c.entries << " entries");
    CommandResult fsck = Git({"--git-dir", BindingDir(i) + "/repo", "fsck"}, "", BindingRepoEnv(config.daemon.state_dir), true);
    BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(shared_store, SharedFixture)

// docs/sync.md, "Shared object stores": a binding's state is its state.json, scan cache and a
// repository of a few entries (24 KiB after a pull on ext4, where it was 108 KiB, then 44).
BOOST_AUTO_TEST_CASE(a_bindings_state_after_a_pull_and_an_edit_stays_a_few_blocks) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  WriteEveryFolder(person, "v: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  auto engine = StartAndPull("v: 1\n");
  EditAndWaitPushed(*engine, 0, "v: edited\n");
  CheckSmallAndValid(0);
}

BOOST_AUTO_TEST_CASE(a_state_dir_of_the_older_layout_keeps_syncing_both_ways_and_shrinks) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  SeedPullAndStop(person);
  std::string head = LogFormat(server.repo_path("cfg"), "main", "%H");
  head = head.substr(0, head.find('\n'));
  for (int i = 0; i < kBindings; ++i) MakeOlderLayout(BindingDir(i), head, StoreDir());
  BOOST_REQUIRE(CountDisk(BindingDir(0)).kib >= 80u);

  WriteEveryFolder(person, "v: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("second"));
  auto engine = StartAndPull("v: 2\n");
  EditAndWaitPushed(*engine, 1, "v: from b1\n");
  for (int i = 0; i < kBindings; ++i) {
    BOOST_TEST(!FileExists(BindingDir(i) + "/repo/description"));
    BOOST_TEST(!FileExists(BindingDir(i) + "/repo/refs/remotes"));
    BOOST_TEST(!FileExists(BindingDir(i) + "/ignore"));
  }
  CheckSmallAndValid(1);
}

// docs/sync.md, "What a binding costs on disk": beside a store, a binding's state after a pull
// is six entries, each a 4 KiB block: what libgit2 needs to open its repository, state.json
// (rewritten by a plain rename, no spare inode) and the scan cache; seven once a pull
// replaced a file (the staging record, kept for the next one). No config (the ignore
// settings are in the store's), no objects/info/alternates (the store is attached at open).
BOOST_AUTO_TEST_CASE(a_bindings_state_dir_on_a_store_holds_only_head_objects_refs_state_json_and_scan_cache) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  SeedPullAndStop(person);
  for (int i = 0; i < kBindings; ++i) BOOST_TEST(StateListing(BindingDir(i)) == kPulledListing, "b" << i);
  WriteEveryFolder(person, "v: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("second"));
  StartAndPull("v: 2\n")->Stop();
  for (int i = 0; i < kBindings; ++i) {
    BOOST_TEST(StateListing(BindingDir(i)) == kPulledListing, "b" << i);
    // The second pull replaced each folder's file: the staging record stays, one block.
    BOOST_TEST(HasIdleStagingRecord(BindingDir(i)), "b" << i);
    BOOST_TEST(CountDisk(BindingDir(i)).kib <= 28u);
  }
  CheckSmallAndValid(-1);
}

// A state dir of the previous layout (alternates file, config, state.json's spare) is trimmed
// when the repository is opened: the synced commit is still read (through the store), state.json
// and the folder are untouched, and an edit made while the daemon was stopped is pushed.
BOOST_AUTO_TEST_CASE(a_state_dir_in_the_previous_layout_is_migrated_and_keeps_its_pending_edit_and_synced_commit) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  SeedPullAndStop(person);
  for (int i = 0; i < kBindings; ++i) MakePreviousLayout(BindingDir(i), StoreDir());
  auto before = LoadBindingState(BindingDir(0));
  BOOST_REQUIRE(before.ok());
  std::string state_json = ReadFile(BindingDir(0) + "/state.json");
  std::string folder = dir / "local/b0";
  WriteFile(folder + "/pending.yaml", "pending: 1\n");  // edited while the daemon was stopped
  struct stat v_before {};
  BOOST_REQUIRE(::stat((folder + "/v.yaml").c_str(), &v_before) == 0);

  {
    auto repo = pass::OpenRepo(BindingDir(0), StoreDir());
    BOOST_REQUIRE_MESSAGE(repo.ok(), repo.status().message());
    git_oid synced;
    BOOST_REQUIRE(git_oid_fromstr(&synced, before->last_synced_commit.c_str()) == 0);
    git_commit* commit = nullptr;
    BOOST_TEST(git_commit_lookup(&commit, repo->get(), &synced) == 0);
    git_commit_free(commit);
  }
  std::set<std::string> with_spare = kPulledListing;
  with_spare.insert("state.json.tmp");  // reused and renamed away by the next save
  BOOST_TEST(StateListing(BindingDir(0)) == with_spare);
  BOOST_TEST(ReadFile(BindingDir(0) + "/state.json") == state_json);
  struct stat v_after {};
  BOOST_REQUIRE(::stat((folder + "/v.yaml").c_str(), &v_after) == 0);
  BOOST_TEST(v_after.st_ino == v_before.st_ino);
  BOOST_TEST(ReadFile(folder + "/v.yaml") == "v: 1\n");
  BOOST_TEST(ReadFile(folder + "/pending.yaml") == "pending: 1\n");

  auto engine = StartAndPull("v: 1\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("apps/a0/pending.yaml") == "pending: 1\n"; },
                        std::chrono::milliseconds(30s)));
  std::this_thread::sleep_for(1500ms);  // the pass's bookkeeping and the one our write started
  engine->Stop();
  BOOST_TEST(ReadFile(folder + "/pending.yaml") == "pending: 1\n");
  for (int i = 1; i < kBindings; ++i) BOOST_TEST(StateListing(BindingDir(i)) == kPulledListing, "b" << i);
  for (const auto& gone : {"repo/config", "repo/objects/info", "state.json.tmp"}) {
    BOOST_TEST(!FileExists(BindingDir(0) + "/" + gone), gone);
  }
  CheckSmallAndValid(0);
}

// A kill -9 between two steps of the migration leaves some of the previous layout's files;
// binding i is left after i steps (the last: all but state.json's spare). The next open
// finishes each, and the bindings go on syncing.
BOOST_AUTO_TEST_CASE(a_migration_interrupted_at_each_step_completes_on_the_next_open) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  SeedPullAndStop(person);
  static_assert(kBindings == 4);
  BOOST_REQUIRE(kMigrationSteps.size() == 3u);
  for (int i = 0; i < kBindings; ++i) {
    MakePreviousLayout(BindingDir(i), StoreDir());
    for (int step = 0; step < i; ++step) fs::remove(BindingDir(i) + "/" + kMigrationSteps[step]);
  }
  std::set<std::string> with_spare = kPulledListing;
  with_spare.insert("state.json.tmp");
  for (int i = 0; i < kBindings; ++i) {
    auto repo = pass::OpenRepo(BindingDir(i), StoreDir());
    BOOST_REQUIRE_MESSAGE(repo.ok(), repo.status().message());
    BOOST_TEST(StateListing(BindingDir(i)) == with_spare, "b" << i);
  }
  WriteEveryFolder(person, "v: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("second"));
  StartAndPull("v: 2\n")->Stop();
  for (int i = 0; i < kBindings; ++i) BOOST_TEST(StateListing(BindingDir(i)) == kPulledListing, "b" << i);
  CheckSmallAndValid(-1);
}



BOOST_AUTO_TEST_CASE(bindings_of_one_remote_triggered_together_share_one_fetch_and_each_applies_its_own_folder) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  WriteEveryFolder(person, "v: 1\n");
  person.Write("other/x.yaml", "x: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));

  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return AllHold("v: 1\n"); }, std::chrono::milliseconds(30s)));
  BOOST_TEST(Fetches() == 1, server.access_log());
  // Each folder holds its own path only.
  BOOST_TEST(!FileExists(dir / "local/b0/x.yaml"));
  BOOST_TEST(!FileExists(dir / "local/b0/apps"));

  std::this_thread::sleep_for(1s);  // the passes our own writes started have ended
  // One push touching every folder, announced to every binding (as one webhook does).
  WriteEveryFolder(person, "v: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("everyone"));
  for (int i = 0; i < kBindings; ++i) BOOST_REQUIRE(engine->TriggerRemote("b" + std::to_string(i), "webhook"));
  BOOST_REQUIRE(WaitFor([&] { return AllHold("v: 2\n"); }, std::chrono::milliseconds(30s)));
  // The triggers arrive one by one: a pass may start its fetch before the last trigger
  // came, and that binding then needs one more. Never one fetch per binding.
  BOOST_TEST(Fetches() >= 2);
  BOOST_TEST(Fetches() <= 3, server.access_log());

  // The binding repositories borrow the objects: the fetched blobs live in the store only.
  std::string store = SharedStoreDir(config.daemon.state_dir, server.url("cfg"));
  BOOST_TEST(CountObjectStore(store).packs >= 1u);
  for (int i = 0; i < kBindings; ++i) {
    std::string repo = config.daemon.state_dir + "/bindings/b" + std::to_string(i) + "/repo";
    BOOST_TEST(CountObjectStore(repo).packs == 0u);
    BOOST_TEST(CountObjectStore(repo).loose == 0u);
    CommandResult fsck = Git({"--git-dir", repo, "fsck"}, "", BindingRepoEnv(config.daemon.state_dir), true);
    BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
  }
  engine->Stop();
}

BOOST_AUTO_TEST_CASE(a_local_edit_of_one_binding_is_pushed_and_pulled_by_its_sibling_through_the_store) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("apps/a0/v.yaml", "v: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  // b0 and b1 on the same folder: an edit through one reaches the other.
  config.connectors[0].syncs[1].path = "apps/a0";
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return Local(0, "v.yaml") == "v: 1\n" && Local(1, "v.yaml") == "v: 1\n"; },
                        std::chrono::milliseconds(30s)));
  WriteFile(dir / "local/b0/v.yaml", "v: from b0\n");
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(server.repo_path("cfg"), "main", "apps/a0/v.yaml") == "v: from b0\n"; },
                        std::chrono::milliseconds(30s)));
  BOOST_REQUIRE(engine->TriggerRemote("b1", "webhook"));
  BOOST_TEST(WaitFor([&] { return Local(1, "v.yaml") == "v: from b0\n"; }, std::chrono::milliseconds(30s)));
  // b0's own pass saw its push too: it stays in step and pushes nothing more.
  BOOST_REQUIRE(engine->TriggerRemote("b0", "webhook"));
  std::this_thread::sleep_for(1s);
  BOOST_TEST(Local(0, "v.yaml") == "v: from b0\n");
  BOOST_TEST(LogFormat(server.repo_path("cfg"), "main", "%s").find("gitsyncd b0") != std::string::npos);
  engine->Stop();
}

// A local edit is pushed on the newest head the store knows (a sibling's push) when its folder
// did not move there: one push, no fetch, no rejected push (docs/sync.md, "One pass").
BOOST_AUTO_TEST_CASE(a_local_edit_after_a_siblings_push_goes_on_top_of_it_without_a_fetch_or_a_second_push) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  auto engine = SeededAndSettled(person);
  int fetches = Fetches(), pushes = Pushes();
  for (int i = 0; i < kBindings; ++i) {
    std::string file = "apps/a" + std::to_string(i) + "/v.yaml", text = "v: from b" + std::to_string(i) + "\n";
    WriteFile(dir / ("local/b" + std::to_string(i) + "/v.yaml"), text);
    BOOST_REQUIRE(WaitFor([&] { return OnRemote(file) == text; }, std::chrono::milliseconds(30s)));
  }
  // nginx logs a request once its response has ended, after the branch moved.
  BOOST_TEST(WaitFor([&] { return Pushes() - pushes >= kBindings; }, std::chrono::milliseconds(10s)));
  std::this_thread::sleep_for(1s);
  BOOST_TEST(Pushes() - pushes == kBindings, server.access_log());
  BOOST_TEST(Fetches() == fetches, server.access_log());
  // Each edit is one commit on the one before, and every edit is on the branch.
  std::string subjects = Git({"--git-dir", server.repo_path("cfg"), "log", "--format=%s", "main"}).out;
  for (int i = 0; i < kBindings; ++i) {
    BOOST_TEST(OnRemote("apps/a" + std::to_string(i) + "/v.yaml") == "v: from b" + std::to_string(i) + "\n");
    BOOST_TEST(subjects.find("gitsyncd b" + std::to_string(i)) != std::string::npos, subjects);
  }
  BOOST_TEST(Git({"--git-dir", server.repo_path("cfg"), "rev-list", "--merges", "main"}).out.empty());
  // Their objects are in the store, and every binding still reads all of its own.
  engine->Stop();
  std::string store = SharedStoreDir(config.daemon.state_dir, server.url("cfg"));
  CommandResult store_fsck = Git({"--git-dir", store, "fsck", "--full"}, "", {}, true);
  BOOST_TEST(store_fsck.exit_code == 0, store_fsck.out + store_fsck.err);
  for (int i = 0; i < kBindings; ++i) {
    std::string repo = config.daemon.state_dir + "/bindings/b" + std::to_string(i) + "/repo";
    CommandResult fsck = Git({"--git-dir", repo, "fsck", "--full"}, "", BindingRepoEnv(config.daemon.state_dir), true);
    BOOST_TEST(fsck.exit_code == 0, "b" << i << ": " << fsck.out + fsck.err);
  }
}

// The head the store knows is stale (a person pushed since, into the same folder): the push on
// it is rejected, and the pass fetches and merges; nothing of either side is lost.
BOOST_AUTO_TEST_CASE(a_local_edit_on_a_stale_known_head_is_rejected_then_merged_and_nothing_is_lost) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  auto engine = SeededAndSettled(person);
  WriteFile(dir / "local/b0/v.yaml", "v: from b0\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("apps/a0/v.yaml") == "v: from b0\n"; }, std::chrono::milliseconds(30s)));
  person.Pull();
  person.Write("apps/a1/person.yaml", "p: 1\n");
  person.Write("apps/a2/person.yaml", "p: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("person, after b0"));
  int fetches = Fetches();
  WriteFile(dir / "local/b1/v.yaml", "v: from b1\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("apps/a1/v.yaml") == "v: from b1\n"; }, std::chrono::milliseconds(30s)));
  BOOST_TEST(Fetches() > fetches);  // the rejection made it fetch
  BOOST_TEST(OnRemote("apps/a0/v.yaml") == "v: from b0\n");
  BOOST_TEST(OnRemote("apps/a1/person.yaml") == "p: 1\n");
  BOOST_TEST(OnRemote("apps/a2/person.yaml") == "p: 2\n");
  BOOST_TEST(WaitFor([&] { return Local(1, "person.yaml") == "p: 1\n"; }, std::chrono::milliseconds(30s)));
  BOOST_TEST(Local(1, "v.yaml") == "v: from b1\n");
  engine->Stop();
}

// A sibling on the same folder pushed: the head the store knows holds that folder changed, so
// an edit is not put on it as if this folder were current there (which would make the next
// pass push the sibling's edit away); it is merged, and both edits stay.
BOOST_AUTO_TEST_CASE(an_edit_beside_a_siblings_push_to_the_same_folder_is_merged_and_keeps_both) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  WriteEveryFolder(person, "v: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  config.connectors[0].syncs[1].path = "apps/a0";  // b0 and b1 on one folder
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return Local(0, "v.yaml") == "v: 1\n" && Local(1, "v.yaml") == "v: 1\n"; },
                        std::chrono::milliseconds(30s)));
  std::this_thread::sleep_for(1s);
  WriteFile(dir / "local/b0/v.yaml", "v: from b0\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("apps/a0/v.yaml") == "v: from b0\n"; }, std::chrono::milliseconds(30s)));
  WriteFile(dir / "local/b1/w.yaml", "w: from b1\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("apps/a0/w.yaml") == "w: from b1\n"; }, std::chrono::milliseconds(30s)));
  BOOST_TEST(WaitFor([&] { return Local(1, "v.yaml") == "v: from b0\n"; }, std::chrono::milliseconds(30s)));
  // Later passes of b1 keep b0's edit: nothing is pushed back over it.
  BOOST_REQUIRE(engine->TriggerRemote("b1", "webhook"));
  BOOST_REQUIRE(engine->TriggerRemote("b0", "webhook"));
  std::this_thread::sleep_for(2s);
  BOOST_TEST(OnRemote("apps/a0/v.yaml") == "v: from b0\n");
  BOOST_TEST(OnRemote("apps/a0/w.yaml") == "w: from b1\n");
  BOOST_TEST(Local(1, "v.yaml") == "v: from b0\n");
  BOOST_TEST(WaitFor([&] { return Local(0, "w.yaml") == "w: from b1\n"; }, std::chrono::milliseconds(30s)));
  engine->Stop();
}

// Every fetch adds a pack to the store; past kMaxPacks they are consolidated under the store's
// lock, at the end of a pass (after its folder was written), while the other bindings' passes
// go on reading the store.
BOOST_AUTO_TEST_CASE(many_fetches_keep_the_store_to_a_few_packs_and_every_binding_reads_all_its_objects) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  WriteEveryFolder(person, "v: 0\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  auto engine = Engine();
  BOOST_REQUIRE(engine->Start().ok());
  BOOST_REQUIRE(WaitFor([&] { return AllHold("v: 0\n"); }, std::chrono::milliseconds(30s)));
  std::string store = SharedStoreDir(config.daemon.state_dir, server.url("cfg"));
  auto repo_of = [&](int i) { return config.daemon.state_dir + "/bindings/b" + std::to_string(i) + "/repo"; };

  // A reader of b0's repository all along: every object its refs reach, through the store. Not
  // refs/gitsyncd/push/*: a pass pushes its new objects before it writes them to disk
  // (sync/object_buffer.h), so that temporary ref may name one for a moment.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::string read_failure;
  std::thread reader([&] {
    while (!stop) {
      auto read_all = [&] {
        return Git({"--git-dir", repo_of(0), "rev-list", "--objects", "--exclude=refs/gitsyncd/push/*", "--all"}, "",
                   BindingRepoEnv(config.daemon.state_dir), true);
      };
      CommandResult r = read_all();
      // git reads the refs first and the objects after: a pass that moved a ref meanwhile, or
      // a repack that replaced a pack, can fail one read. An object really lost fails the
      // second read too.
      if (r.exit_code != 0) r = read_all();
      if (r.exit_code != 0 && read_failure.empty()) read_failure = r.err;
      ++reads;
      std::this_thread::sleep_for(20ms);
    }
  });

  constexpr int kRounds = static_cast<int>(kMaxPacks) + 4;
  size_t most_packs = 0;
  for (int round = 1; round <= kRounds; ++round) {
    std::string v = "v: " + std::to_string(round) + "\n";
    person.Pull();
    WriteEveryFolder(person, v);
    BOOST_REQUIRE(person.CommitAndPush("round " + std::to_string(round)));
    // And a local edit in one binding: its pass commits and pushes over objects of the store.
    int editor = round % kBindings;
    WriteFile(dir / ("local/b" + std::to_string(editor) + "/edit.yaml"), "round: " + std::to_string(round) + "\n");
    for (int i = 0; i < kBindings; ++i) BOOST_REQUIRE(engine->TriggerRemote("b" + std::to_string(i), "webhook"));
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return AllHold(v); }, std::chrono::milliseconds(30s)), "round " << round);
    BOOST_REQUIRE(WaitFor(
        [&] {
          return ShowFile(server.repo_path("cfg"), "main", "apps/a" + std::to_string(editor) + "/edit.yaml") ==
                 "round: " + std::to_string(round) + "\n";
        },
        std::chrono::milliseconds(30s)));
    BOOST_REQUIRE(WaitFor([&] { return Idle(*engine); }, std::chrono::milliseconds(30s)));
    most_packs = std::max(most_packs, CountObjectStore(store).packs);
  }
  stop = true;
  reader.join();
  engine->Stop();

  // More fetches than kMaxPacks, yet once the passes were over the store never held more
  // packs than that.
  BOOST_TEST(Fetches() > static_cast<int>(kMaxPacks) + 1);
  BOOST_TEST(most_packs <= kMaxPacks);
  ObjectStoreCounts counts = CountObjectStore(store);
  BOOST_TEST(counts.packs >= 1u);
  BOOST_TEST(counts.loose <= kMaxLoose);
  BOOST_TEST(reads > 0);
  BOOST_TEST(read_failure.empty(), read_failure);
  for (int i = 0; i < kBindings; ++i) {
    BOOST_TEST(Local(i, "v.yaml") == "v: " + std::to_string(kRounds) + "\n");
    CommandResult fsck = Git({"--git-dir", repo_of(i), "fsck", "--full"}, "", BindingRepoEnv(config.daemon.state_dir), true);
    BOOST_TEST(fsck.exit_code == 0, "b" << i << ": " << fsck.out + fsck.err);
  }
  CommandResult store_fsck = Git({"--git-dir", store, "fsck", "--full"}, "", {}, true);
  BOOST_TEST(store_fsck.exit_code == 0, store_fsck.out + store_fsck.err);
}

BOOST_AUTO_TEST_SUITE_END()
