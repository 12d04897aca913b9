// A sync binding against a local bare remote (file://), a person editing that remote with
// the git CLI, and the binding's local folder.
#pragma once

#include <boost/test/unit_test.hpp>

#include "sync/binding_state.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"

namespace gitsyncd::testing {

struct SyncFixture {
  TempDir dir;
  std::string remote = dir / "remote.git";
  std::string local = dir / "local";
  BindingSpec spec;

  explicit SyncFixture(const std::string& path = "config") {
    InitBareRepo(remote);
    spec.name = "app";
    spec.branch = "main";
    spec.path = path;
    spec.local = local;
    spec.binding_dir = dir / "state/bindings/app";
    spec.author = {"Sync Bot", "bot@example.com"};
    spec.remote.url = "file://" + remote;
  }

  // A fresh clone of the remote for the person on the other side.
  GitClone Person(const std::string& name = "person") { return GitClone("file://" + remote, dir / name); }

  PassOutcome Sync() {
    auto r = RunSyncPass(spec);
    BOOST_REQUIRE_MESSAGE(r.ok(), "sync pass failed: " + r.status().message());
    return *r;
  }
  Status SyncStatus() { return RunSyncPass(spec).status(); }

  std::string Local(const std::string& rel) { return ReadFile(local + "/" + rel); }
  bool LocalExists(const std::string& rel) { return FileExists(local + "/" + rel); }
  void WriteLocal(const std::string& rel, const std::string& text) { WriteFile(local + "/" + rel, text); }
  std::string Remote(const std::string& rel, const std::string& rev = "main") {
    return ShowFile(remote, rev, rel);
  }
  bool RemoteHas(const std::string& rel, const std::string& rev = "main") {
    bool found = false;
    ShowFile(remote, rev, rel, &found);
    return found;
  }
  BindingState State() {
    auto s = LoadBindingState(spec.binding_dir);
    BOOST_REQUIRE(s.ok());
    return *s;
  }
};

}  // namespace gitsyncd::testing
