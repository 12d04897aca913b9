// The "other side" of a sync in tests: a person using the real `git` command on a clone of
// the remote, and assertions on what the remote holds.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

// Runs git and fails the test (throws) on a non-zero exit unless `allow_fail`.
CommandResult Git(const std::vector<std::string>& args, const std::string& cwd = "",
                  const std::map<std::string, std::string>& env = {}, bool allow_fail = false);

// The environment in which `git` reads a binding's repository (<state_dir>/bindings/<name>/repo)
// whole: its objects come from the shared stores under <state_dir>/remotes/, which the daemon
// attaches when it opens the repository (sync/binding_repo.h) and no file in it names.
std::map<std::string, std::string> BindingRepoEnv(const std::string& state_dir);

// Creates a bare repository with `branch` as its initial branch.
void InitBareRepo(const std::string& path, const std::string& branch = "main");

class GitClone {
 public:
  // Clones `url` (an empty remote is fine) into `dir`, checking out `branch` (created if new).
  GitClone(const std::string& url, const std::string& dir, const std::string& branch = "main",
           std::map<std::string, std::string> env = {});
  void Write(const std::string& path, const std::string& content);
  void Remove(const std::string& path);
  // Commits everything and pushes; returns false if the push was rejected.
  bool CommitAndPush(const std::string& message);
  void Pull();
  std::string Head();  // commit id of the checked-out branch

  // Plumbing for trees no porcelain would make (a ".." entry, a "/" inside a name, two
  // entries of one name): `git hash-object -t <type> --literally -w`, stored without checks.
  std::string HashObject(const std::string& type, const std::string& content);
  struct RawEntry {
    std::string mode;  // "100644", "40000", "120000", "160000"
    std::string name;
    std::string id;    // hex
  };
  // A tree object holding `entries` exactly as given (no sorting, no checks).
  std::string RawTree(const std::vector<RawEntry>& entries);
  // Commits `tree` on top of `parent` (empty: on HEAD), pushes it to the branch (forced when
  // `force`) and moves HEAD there; returns the commit id. Throws when the push is refused.
  std::string PushTree(const std::string& tree, const std::string& message, const std::string& parent = "",
                       bool force = false);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string branch_;
  std::map<std::string, std::string> env_;
};

// `git show <rev>:<path>` in a (bare) repository; empty with found=false when missing.
std::string ShowFile(const std::string& repo, const std::string& rev, const std::string& path, bool* found = nullptr,
                     const std::map<std::string, std::string>& env = {});
// Branch names in a bare repository ("main", "gitsyncd/conflicts/...").
std::vector<std::string> Branches(const std::string& repo);
// `git log -1 --format=<fmt> <rev>`.
std::string LogFormat(const std::string& repo, const std::string& rev, const std::string& fmt);

}  // namespace gitsyncd::testing
