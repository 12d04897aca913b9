// A binding of the folder "config" on a real remote of either kind (file://, or the nginx
// HTTPS server), and the person on the other side, who can also write raw trees.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <set>

#include "tests/support/git_servers.h"
#include "tests/sync/sync_test_util.h"

namespace gitsyncd::testing {

enum class Served { kFile, kHttps };

inline const char* Name(Served s) { return s == Served::kFile ? "file://" : "https (nginx)"; }

// A binding of the folder "config" on a remote of the given kind, and the person on the
// other side who writes raw trees.
struct Binding : SyncFixture {
  std::unique_ptr<GitHttpsServer> server;
  std::unique_ptr<GitClone> person;
  std::string bare;  // the remote repository on disk

  explicit Binding(Served served) : SyncFixture("config") {
    if (served == Served::kFile) {
      bare = remote;
      person = std::make_unique<GitClone>("file://" + remote, dir / "person");
      return;
    }
    server = std::make_unique<GitHttpsServer>();
    server->CreateBareRepo("cfg");
    bare = server->repo_path("cfg");
    remote = bare;  // Remote() and RemoteHas() read the served repository
    spec.remote.url = server->url("cfg");
    spec.remote.username = server->user();
    spec.remote.password = server->password();
    BOOST_REQUIRE(ConfigureTls(server->ca_file()).ok());
    person = std::make_unique<GitClone>(server->url_with_credentials("cfg"), dir / "person", "main", server->git_env());
  }

  std::string Blob(const std::string& text) { return person->HashObject("blob", text); }
  // A commit whose root holds just config/ = `folder`, pushed on top of the branch.
  std::string PushFolder(const std::vector<GitClone::RawEntry>& folder, const std::string& message,
                         const std::string& parent = "", bool force = false) {
    std::string tree = person->RawTree(folder);
    std::string root = person->RawTree({{"40000", "config", tree}});
    return person->PushTree(root, message, parent, force);
  }
  std::string RemoteHead() {
    std::string out = Git({"--git-dir", bare, "rev-parse", "main"}).out;
    return out.substr(0, out.find('\n'));
  }
  Result<PassOutcome> IncrementalPass(const std::set<std::string>& changed) {
    PassOptions options;
    options.changed_paths = &changed;
    return RunSyncPass(spec, options);
  }
  // Nothing named escaped.txt anywhere around the test's folders.
  bool EscapedAnywhere() {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir.path(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::string p = it->path().string();
      if (it->path().filename() == "escaped.txt" && p.find("/state/") == std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace gitsyncd::testing
