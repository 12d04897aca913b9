// Writing a pulled commit into the folder, played against a local user who races the pull:
// a symlink swapped in for a folder never takes a write outside, a full disk leaves the folder
// on the previous commit, an edit saved at any moment of the pull is never lost, and no file
// is deleted because of its name. Each case runs against a file:// remote and the nginx HTTPS
// server.
#include <fcntl.h>
#include <malloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>

#include "sync/folder_apply.h"
#include "sync/folder_fd.h"
#include "sync/git_handles.h"
#include "sync/remote_auth.h"
#include "tests/support/git_servers.h"
#include "tests/sync/sync_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

// The pause points of ApplyToFolder, reset when the test ends.
struct HookGuard {
  explicit HookGuard(ApplyHook hook) { SetApplyHookForTest(std::move(hook)); }
  ~HookGuard() { SetApplyHookForTest(nullptr); }
};

struct FileRemote : SyncFixture {
  FileRemote() : SyncFixture("config") {}
  GitClone Other(const std::string& name) { return Person(name); }
};

struct HttpsRemote : SyncFixture {
  GitHttpsServer server;
  HttpsRemote() : SyncFixture("config") {
    server.CreateBareRepo("cfg");
    remote = server.repo_path("cfg");  // what Remote() and RemoteHas() read
    spec.remote.url = server.url("cfg");
    spec.remote.username = server.user();
    spec.remote.password = server.password();
    BOOST_REQUIRE(ConfigureTls(server.ca_file()).ok());
  }
  GitClone Other(const std::string& name) {
    return GitClone(server.url_with_credentials("cfg"), dir / name, "main", server.git_env());
  }
};

using Remotes = boost::mpl::list<FileRemote, HttpsRemote>;

// Every name under `root`, relative to it, symlinks not followed.
std::set<std::string> Listing(const std::string& root) {
  std::set<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    out.insert(fs::relative(it->path(), root).string());
  }
  return out;
}

// True when `text` is the content of config/<rel> in the folder or on any branch of the remote.
template <typename F>
bool EditSurvives(F& f, const std::string& rel, const std::string& text) {
  if (f.LocalExists(rel) && f.Local(rel) == text) return true;
  for (const auto& b : Branches(f.remote)) {
    if (f.RemoteHas("config/" + rel, b) && f.Remote("config/" + rel, b) == text) return true;
  }
  return false;
}

// Seeds the remote with `files` under config/ and syncs them into the folder.
template <typename F>
void Seed(F& f, const std::map<std::string, std::string>& files) {
  GitClone p = f.Other("seed");
  for (const auto& [rel, text] : files) p.Write("config/" + rel, text);
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  f.Sync();
}

// The person's next commit: `files` written (empty text: removed) under config/.
template <typename F>
void Push(F& f, const std::map<std::string, std::string>& files, const std::string& name = "person") {
  GitClone p = f.Other(name);
  for (const auto& [rel, text] : files) {
    if (text.empty()) p.Remove("config/" + rel);
    else p.Write("config/" + rel, text);
  }
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
}

// Runs the pull the hook races: the edit `text` of `rel` must be in the folder after it, and
// after one more pass (which merges or records a conflict) in the folder or on a branch.
template <typename F>
void ExpectEditKeptThroughThePull(F& f, const std::string& rel, const std::string& text) {
  auto pulled = RunSyncPass(f.spec);
  BOOST_REQUIRE_MESSAGE(pulled.ok(), pulled.status().message());
  BOOST_TEST(f.Local(rel) == text);
  SetApplyHookForTest(nullptr);
  f.Sync();
  BOOST_TEST(EditSurvives(f, rel, text));
}

template <typename F>
void SymlinkSwappedInDuringAPullWritesNothingOutside(F& f) {
  Seed(f, {{"sub/a.txt", "one\n"}, {"sub/old.txt", "old\n"}});
  // The link's target holds the same files, so a check that followed it would pass.
  std::string outside = f.dir / "outside";
  WriteFile(outside + "/a.txt", "one\n");
  WriteFile(outside + "/old.txt", "old\n");
  Push(f, {{"sub/a.txt", "two\n"}, {"sub/new.txt", "new\n"}, {"sub/old.txt", ""}});
  HookGuard hook([&](const std::string& moment, const std::string&) {
    if (moment != "staged") return;
    fs::rename(f.local + "/sub", f.dir / "moved-sub");
    fs::create_directory_symlink(outside, f.local + "/sub");
  });
  (void)RunSyncPass(f.spec);
  BOOST_TEST(ReadFile(outside + "/a.txt") == "one\n");
  BOOST_TEST(ReadFile(outside + "/old.txt") == "old\n");
  BOOST_TEST(!FileExists(outside + "/new.txt"));
  BOOST_TEST(Listing(outside).size() == 2u);
  BOOST_TEST(fs::is_symlink(f.local + "/sub"));
}

// A size-limited tmpfs mounted for the test, holding the synced folder.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& at) : at_(at) {
    fs::create_directories(at);
    mounted_ = ::mount("tmpfs", at.c_str(), "tmpfs", 0, "size=1m") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  // Fills the disk until about `free_bytes` are left, with a file outside the synced folder.
  void LeaveFree(uint64_t free_bytes) {
    struct statvfs sv{};
    BOOST_REQUIRE(::statvfs(at_.c_str(), &sv) == 0);
    uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    BOOST_REQUIRE(avail > free_bytes);
    WriteFile(at_ + "/filler", std::string(avail - free_bytes, 'f'));
  }
  void FreeSpace() { fs::remove(at_ + "/filler"); }

 private:
  std::string at_;
  bool mounted_ = false;
};

// The binding's folder goes onto `disk`; false (the test skipped) when it could not be mounted.
template <typename F>
bool MoveFolderOnto(F& f, const SmallDisk& disk) {
  if (!disk.mounted()) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return false;
  }
  f.spec.local = f.local = f.dir / "disk/folder";
  return true;
}

// Sets or clears the immutable flag of a folder: no name in it can be added, renamed or removed.
bool SetImmutable(const std::string& folder, bool on) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
  ok = ok && ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_apply)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_rename_refused_during_the_swap_in_undoes_the_renames_before_it, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "one\n"}, {"gone.txt", "old\n"}, {"sub/b.txt", "bee\n"}});
  const std::set<std::string> before = Listing(f.local);
  Push(f, {{"a.txt", "two\n"}, {"gone.txt", ""}, {"new/c.txt", "sea\n"}, {"sub/b.txt", "buzz\n"}});
  bool immutable = false;
  HookGuard hook([&](const std::string& moment, const std::string&) {
    if (moment == "staged") immutable = SetImmutable(f.local + "/sub", true);  // sub/b.txt is swapped in last
  });
  Status refused = f.SyncStatus();
  if (immutable) SetImmutable(f.local + "/sub", false);
  if (!immutable) {
    BOOST_TEST_MESSAGE("skipped: this filesystem has no immutable flag");
    return;
  }
  BOOST_TEST(!refused.ok());
  BOOST_TEST(refused.message().find("were undone") != std::string::npos, refused.message());
  BOOST_TEST(Listing(f.local) == before);
  BOOST_TEST(f.Local("a.txt") == "one\n");
  BOOST_TEST(f.Local("gone.txt") == "old\n");
  SetApplyHookForTest(nullptr);
  f.Sync();
  BOOST_TEST(f.Local("a.txt") == "two\n");
  BOOST_TEST(f.Local("sub/b.txt") == "buzz\n");
  BOOST_TEST(f.Local("new/c.txt") == "sea\n");
  BOOST_TEST(!f.LocalExists("gone.txt"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_full_disk_while_staging_leaves_the_folder_on_the_previous_commit, F, Remotes) {
  F f;
  SmallDisk disk(f.dir / "disk");
  if (!MoveFolderOnto(f, disk)) return;
  Seed(f, {{"a.txt", "v1\n"}, {"b.txt", "keep\n"}, {"sub/c.txt", "sea\n"}});
  const std::set<std::string> before = Listing(f.local);
  // A commit whose files do not fit: it changes, adds and deletes files.
  std::map<std::string, std::string> commit{{"a.txt", "v2\n"}, {"b.txt", ""}, {"sub/c.txt", ""}};
  for (char c : std::string("wxyz")) commit[std::string("big-") + c + ".bin"] = std::string(100 * 1024, c);
  Push(f, commit);
  disk.LeaveFree(200 * 1024);
  Status full = f.SyncStatus();
  BOOST_TEST(!full.ok());
  BOOST_TEST(full.message().find("No space left on device") != std::string::npos, full.message());
  BOOST_TEST(f.State().last_error.find("No space left on device") != std::string::npos);
  BOOST_TEST(Listing(f.local) == before);
  BOOST_TEST(f.Local("a.txt") == "v1\n");
  BOOST_TEST(f.Local("b.txt") == "keep\n");
  BOOST_TEST(f.Local("sub/c.txt") == "sea\n");
  BOOST_TEST(f.Remote("config/a.txt") == "v2\n");  // nothing pushed back over the commit
  disk.FreeSpace();
  f.Sync();
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt", "big-w.bin", "big-x.bin", "big-y.bin", "big-z.bin"}));
  BOOST_TEST(f.Local("a.txt") == "v2\n");
  BOOST_TEST(f.Local("big-z.bin") == std::string(100 * 1024, 'z'));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_symlink_swapped_in_for_a_folder_during_a_pull_takes_no_write_outside, F, Remotes) {
  F f;
  SymlinkSwappedInDuringAPullWritesNothingOutside(f);
}

BOOST_AUTO_TEST_CASE(a_symlink_swapped_in_takes_no_write_outside_without_openat2_either) {
  UseOpenat2ForTest(false);
  struct Restore {
    ~Restore() { UseOpenat2ForTest(true); }
  } restore;
  FileRemote f;
  SymlinkSwappedInDuringAPullWritesNothingOutside(f);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_edit_saved_between_the_check_and_the_swap_is_never_lost, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}, {"b.txt", "bee\n"}});
  Push(f, {{"a.txt", "remote\n"}, {"b.txt", "remote bee\n"}});
  HookGuard hook([&](const std::string& moment, const std::string& path) {
    if (moment == "checked" && path == "a.txt") WriteFile(f.local + "/a.txt", "local\n");  // in place
    if (moment == "checked" && path == "b.txt") {
      WriteFile(f.local + "/.b.txt.swp", "local bee\n");  // an editor's save: rename over it
      fs::rename(f.local + "/.b.txt.swp", f.local + "/b.txt");
    }
  });
  ExpectEditKeptThroughThePull(f, "a.txt", "local\n");
  BOOST_TEST(EditSurvives(f, "b.txt", "local bee\n"));
  BOOST_TEST(EditSurvives(f, "a.txt", "remote\n"));  // the remote's edit is not pushed over either
  BOOST_TEST(EditSurvives(f, "b.txt", "remote bee\n"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_edit_to_a_file_the_pull_deletes_is_never_lost, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}, {"gone.txt", "old\n"}});
  Push(f, {{"gone.txt", ""}});
  HookGuard hook([&](const std::string& moment, const std::string& path) {
    if (moment == "checked" && path == "gone.txt") WriteFile(f.local + "/gone.txt", "edited\n");
  });
  ExpectEditKeptThroughThePull(f, "gone.txt", "edited\n");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_edit_written_through_a_descriptor_opened_before_the_swap_is_never_lost, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}});
  Push(f, {{"a.txt", "remote\n"}});
  int fd = -1;
  HookGuard hook([&](const std::string& moment, const std::string&) {
    if (moment == "checked") fd = ::open((f.local + "/a.txt").c_str(), O_WRONLY);
    if (moment == "swapped" && fd >= 0) {
      // The program saves after the new file is in place, into the file it has open.
      BOOST_REQUIRE(::ftruncate(fd, 0) == 0);
      BOOST_REQUIRE(::pwrite(fd, "local\n", 6, 0) == 6);
      ::close(fd);
    }
  });
  ExpectEditKeptThroughThePull(f, "a.txt", "local\n");
  BOOST_TEST(EditSurvives(f, "a.txt", "remote\n"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(files_named_like_the_daemons_temp_files_are_synced_and_never_deleted, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}});
  f.WriteLocal(".gitsyncd-tmp-notes", "mine\n");
  f.WriteLocal(".gitsyncd-tmp-dir/inner.txt", "inner\n");
  f.WriteLocal(".gitsyncd-staging-x/look-alike.txt", "also mine\n");
  f.Sync();
  BOOST_TEST(f.Remote("config/.gitsyncd-tmp-notes") == "mine\n");
  BOOST_TEST(f.Remote("config/.gitsyncd-tmp-dir/inner.txt") == "inner\n");
  BOOST_TEST(f.Remote("config/.gitsyncd-staging-x/look-alike.txt") == "also mine\n");
  Push(f, {{".gitsyncd-tmp-from-remote", "theirs\n"}, {"a.txt", "remote\n"}});
  f.Sync();
  BOOST_TEST(f.Local(".gitsyncd-tmp-from-remote") == "theirs\n");
  BOOST_TEST(f.Local(".gitsyncd-tmp-notes") == "mine\n");
  BOOST_TEST(f.Local(".gitsyncd-tmp-dir/inner.txt") == "inner\n");
  BOOST_TEST(f.Local(".gitsyncd-staging-x/look-alike.txt") == "also mine\n");
  // The watcher's path reaches the file too.
  f.WriteLocal(".gitsyncd-tmp-notes", "mine, edited\n");
  std::set<std::string> changed{".gitsyncd-tmp-notes"};
  auto hinted = RunSyncPass(f.spec, PassOptions{true, &changed});
  BOOST_REQUIRE_MESSAGE(hinted.ok(), hinted.status().message());
  BOOST_TEST(f.Remote("config/.gitsyncd-tmp-notes") == "mine, edited\n");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_staging_folder_left_by_a_killed_pull_is_removed_and_nothing_else, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}});
  f.WriteLocal(".gitsyncd-staging-mine/x.txt", "mine\n");
  f.Sync();
  Push(f, {{"a.txt", "remote\n"}, {"new.txt", "new\n"}});
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    SetApplyHookForTest([](const std::string& moment, const std::string&) {
      if (moment == "staged") ::_exit(9);  // killed with every file staged
    });
    (void)RunSyncPass(f.spec);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  // a.txt, the user's folder and file, the staging folder with the two new files
  BOOST_TEST(Listing(f.local).size() == 6u);
  BOOST_TEST(f.Local("a.txt") == "base\n");
  f.Sync();
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt", "new.txt", ".gitsyncd-staging-mine",
                                                         ".gitsyncd-staging-mine/x.txt"}));
  BOOST_TEST(f.Local("a.txt") == "remote\n");
  BOOST_TEST(f.Remote("config/.gitsyncd-staging-mine/x.txt") == "mine\n");
}

// A commit that only adds files writes them unnamed (O_TMPFILE) and links them in: killed
// before the links, it leaves nothing in the folder, no staging folder and no record of one.
BOOST_AUTO_TEST_CASE(a_pull_that_only_adds_files_killed_before_they_are_named_leaves_nothing_behind) {
  FileRemote f;
  Seed(f, {{"a.txt", "base\n"}});
  Push(f, {{"new.txt", "new\n"}, {"sub/deeper/new2.txt", "two\n"}});
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    SetApplyHookForTest([](const std::string& moment, const std::string&) {
      if (moment == "staged") ::_exit(9);  // killed with both files written, neither named
    });
    (void)RunSyncPass(f.spec);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt"}));
  std::string record = f.spec.binding_dir + "/staging";  // none, or one that names no folder
  std::string recorded = FileExists(record) ? ReadFile(record) : "";
  BOOST_TEST(recorded.find_first_not_of(" \n") == std::string::npos, recorded);
  f.Sync();
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt", "new.txt", "sub", "sub/deeper", "sub/deeper/new2.txt"}));
  BOOST_TEST(f.Local("sub/deeper/new2.txt") == "two\n");
}

BOOST_AUTO_TEST_CASE(a_symlink_swapped_in_before_new_files_are_named_takes_no_write_outside) {
  FileRemote f;
  Seed(f, {{"sub/a.txt", "one\n"}});
  std::string outside = f.dir / "outside";
  WriteFile(outside + "/a.txt", "one\n");
  Push(f, {{"sub/new.txt", "new\n"}});
  HookGuard hook([&](const std::string& moment, const std::string&) {
    if (moment != "staged") return;
    fs::rename(f.local + "/sub", f.dir / "moved-sub");
    fs::create_directory_symlink(outside, f.local + "/sub");
  });
  (void)RunSyncPass(f.spec);
  BOOST_TEST(!FileExists(outside + "/new.txt"));
  BOOST_TEST(Listing(outside).size() == 1u);
  BOOST_TEST(fs::is_symlink(f.local + "/sub"));
  BOOST_TEST(!FileExists(f.dir / "moved-sub/new.txt"));
}

BOOST_AUTO_TEST_CASE(a_file_the_user_creates_under_a_new_files_name_before_it_is_named_is_kept) {
  FileRemote f;
  Seed(f, {{"a.txt", "base\n"}});
  Push(f, {{"new.txt", "remote\n"}});
  HookGuard hook([&](const std::string& moment, const std::string&) {
    if (moment == "staged") WriteFile(f.local + "/new.txt", "mine\n");
  });
  ExpectEditKeptThroughThePull(f, "new.txt", "mine\n");
  BOOST_TEST(EditSurvives(f, "new.txt", "remote\n"));
}

BOOST_AUTO_TEST_CASE(a_full_disk_while_writing_only_new_files_leaves_the_folder_on_the_previous_commit) {
  FileRemote f;
  SmallDisk disk(f.dir / "disk");
  if (!MoveFolderOnto(f, disk)) return;
  Seed(f, {{"a.txt", "v1\n"}});
  std::map<std::string, std::string> commit;
  for (char c : std::string("wxyz")) commit[std::string("new/big-") + c + ".bin"] = std::string(100 * 1024, c);
  Push(f, commit);
  disk.LeaveFree(200 * 1024);
  Status full = f.SyncStatus();
  BOOST_TEST(full.message().find("No space left on device") != std::string::npos, full.message());
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt"}));
  disk.FreeSpace();
  f.Sync();
  BOOST_TEST(f.Local("new/big-z.bin") == std::string(100 * 1024, 'z'));
}


// A pull replacing a file 40 times (a config file of 512 KB changed on every push) leaves the
// heap as it was: no blob read for a staged file stays behind.
// The staging record is one file rewritten in place: pulls that replace files keep its inode
// (no allocation per pull) and leave it naming nothing; a pull killed after that still has
// its staging file removed by the next pass.
BOOST_AUTO_TEST_CASE(pulls_that_replace_files_rewrite_one_staging_record_in_place) {
  FileRemote f;
  Seed(f, {{"a.txt", "one\n"}});
  std::string record = f.spec.binding_dir + "/staging";
  std::vector<ino_t> inodes;
  for (const std::string content : {"two\n", "three\n"}) {
    Push(f, {{"a.txt", content}}, "person-" + std::to_string(inodes.size()));
    f.Sync();
    BOOST_TEST(f.Local("a.txt") == content);
    struct stat st{};
    BOOST_REQUIRE(::stat(record.c_str(), &st) == 0);
    inodes.push_back(st.st_ino);
    BOOST_TEST(ReadFile(record).find_first_not_of(" \n") == std::string::npos, ReadFile(record));
  }
  BOOST_TEST(inodes[0] == inodes[1]);
  Push(f, {{"a.txt", "four\n"}}, "person-last");
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    SetApplyHookForTest([](const std::string& moment, const std::string&) {
      if (moment == "staged") ::_exit(9);
    });
    (void)RunSyncPass(f.spec);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  BOOST_TEST(Listing(f.local).size() == 2u);  // a.txt and the staging file
  f.Sync();
  BOOST_TEST((Listing(f.local) == std::set<std::string>{"a.txt"}));
  BOOST_TEST(f.Local("a.txt") == "four\n");
}

// Runs a pull of `f` (one file replaced) in a child killed at `moment`; the folder's listing
// after the kill.
template <typename F>
std::set<std::string> PullKilledAt(F& f, const std::string& moment) {
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    SetApplyHookForTest([moment](const std::string& now, const std::string&) {
      if (now == moment) ::_exit(9);
    });
    (void)RunSyncPass(f.spec);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  return Listing(f.local);
}

// The file of `listing` whose name starts like the daemon's staging names ("" if none).
std::string StagingName(const std::set<std::string>& listing) {
  for (const auto& n : listing) {
    if (n.rfind(".gitsyncd-staging-", 0) == 0) return n;
  }
  return "";
}

// A commit that replaces one file and nothing else makes no staging folder: the new file gets
// a recorded name of its own beside the others, and is exchanged with the file. Killed before
// the exchange (the name holds the new file) or after it (the old one), the next pass removes
// that name and nothing else, and the folder ends on the commit; the user's look-alike stays.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_one_file_pull_killed_before_or_after_its_exchange_leaves_only_the_users_files, F,
                              Remotes) {
  F f;
  Seed(f, {{"sub/a.txt", "one\n"}});
  f.WriteLocal(".gitsyncd-staging-mine", "mine\n");
  f.Sync();
  const std::set<std::string> mine{".gitsyncd-staging-mine", "sub", "sub/a.txt"};
  struct Case {
    const char* moment;
    const char* left;   // what the killed pull left in its staging file
    const char* in_a;   // and in sub/a.txt
  };
  int round = 0;
  for (const Case c : {Case{"staged", "two\n", "one\n"}, Case{"swapped", "one\n", "two\n"}}) {
    Push(f, {{"sub/a.txt", "two\n"}}, "person-" + std::to_string(round));
    std::set<std::string> left = PullKilledAt(f, c.moment);
    left.erase(".gitsyncd-staging-mine");
    std::string staging = StagingName(left);
    BOOST_TEST(left.size() == 3u, c.moment);  // sub, sub/a.txt and the staging file: no folder
    BOOST_TEST(!fs::is_directory(f.local + "/" + staging), c.moment);
    BOOST_TEST(f.Local(staging) == c.left, c.moment);
    BOOST_TEST(f.Local("sub/a.txt") == c.in_a, c.moment);
    f.Sync();
    BOOST_TEST(Listing(f.local) == mine, c.moment);
    BOOST_TEST(f.Local("sub/a.txt") == "two\n", c.moment);
    BOOST_TEST(f.Local(".gitsyncd-staging-mine") == "mine\n");
    BOOST_TEST(f.Remote("config/sub/a.txt") == "two\n");  // the old version was not pushed back
    Push(f, {{"sub/a.txt", "one\n"}}, "person-back-" + std::to_string(round++));
    f.Sync();
  }
}

// After a kill, the staging file's name may hold a file of the user's by the next start (saved
// there under that name, or swapped in): an inode the record does not name is never removed,
// and it is synced like any of the user's files.
BOOST_AUTO_TEST_CASE(a_users_file_under_a_killed_pulls_staging_name_is_kept_and_synced) {
  FileRemote f;
  Seed(f, {{"a.txt", "one\n"}});
  Push(f, {{"a.txt", "two\n"}});
  std::set<std::string> left = PullKilledAt(f, "staged");
  std::string staging = StagingName(left);
  BOOST_REQUIRE(!staging.empty());
  f.WriteLocal(".mine.swp", "mine\n");  // an editor's save: renamed over the name, a new inode
  fs::rename(f.local + "/.mine.swp", f.local + "/" + staging);
  f.Sync();
  BOOST_TEST(f.Local(staging) == "mine\n");
  BOOST_TEST(f.Local("a.txt") == "two\n");
  BOOST_TEST(f.Remote("config/" + staging) == "mine\n");
}

// The pull race of a one-file commit: an edit saved in place or renamed over the file between
// the check and the exchange is found in what the exchange took out, and put back.
BOOST_AUTO_TEST_CASE_TEMPLATE(an_edit_saved_just_before_a_one_file_pull_exchanges_it_is_never_lost, F, Remotes) {
  F f;
  Seed(f, {{"a.txt", "base\n"}, {"b.txt", "bee\n"}});
  Push(f, {{"a.txt", "remote\n"}});
  HookGuard in_place([&](const std::string& moment, const std::string&) {
    if (moment == "checked") WriteFile(f.local + "/a.txt", "local\n");
  });
  ExpectEditKeptThroughThePull(f, "a.txt", "local\n");
  BOOST_TEST(EditSurvives(f, "a.txt", "remote\n"));
  Push(f, {{"b.txt", "remote bee\n"}}, "person-b");
  HookGuard renamed([&](const std::string& moment, const std::string&) {
    if (moment != "checked") return;
    WriteFile(f.local + "/.b.txt.swp", "local bee\n");  // an editor's save: rename over it
    fs::rename(f.local + "/.b.txt.swp", f.local + "/b.txt");
  });
  ExpectEditKeptThroughThePull(f, "b.txt", "local bee\n");
  BOOST_TEST(EditSurvives(f, "b.txt", "remote bee\n"));
  BOOST_TEST(StagingName(Listing(f.local)).empty());
}

BOOST_AUTO_TEST_CASE(replacing_a_large_file_over_and_over_leaves_no_memory_behind) {
  TempDir dir;
  git_repository* raw = nullptr;
  BOOST_REQUIRE(git_repository_init(&raw, (dir / "repo.git").c_str(), 1) == 0);
  RepositoryPtr repo(raw);
  FileEntry versions[2];
  for (int v = 0; v < 2; ++v) {
    std::string content(512 * 1024, static_cast<char>('a' + v));
    BOOST_REQUIRE(git_blob_create_from_buffer(&versions[v].oid, raw, content.data(), content.size()) == 0);
  }
  std::string folder = dir / "folder";
  fs::create_directories(folder);
  fs::create_directories(dir / "state");
  auto apply = [&](int from, int to) {
    FlatTree scanned, target{{"big.yaml", versions[to]}};
    if (from >= 0) scanned["big.yaml"] = versions[from];
    ApplyReport report;
    Status s = ApplyToFolder(raw, folder, dir / "state", scanned, target, &report);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
    BOOST_REQUIRE_EQUAL(report.written.size(), 1u);
  };
  apply(-1, 0);
  apply(0, 1);
  size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 40; ++i) apply((i + 1) % 2, i % 2);
  size_t after = mallinfo2().uordblks;
  BOOST_TEST(ReadFile(folder + "/big.yaml") == std::string(512 * 1024, 'b'));
  BOOST_TEST(after < before + 4 * 1024 * 1024, "the heap grew by " << (after - before) / 1024 << " KB");
}

BOOST_AUTO_TEST_SUITE_END()
