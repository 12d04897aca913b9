// A real `gitsyncd run` against the HTTPS test server, for tests of what an operator does
// with it: binding NAME syncs folder NAME/ of one repository with srv/NAME; a person pushes
// with the git CLI; the CLI, the operator API and status are one call each.
#pragma once

#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

namespace gitsyncd::testing {

inline constexpr const char* kPassword = "Daemon-pass-4-test";

// One HTTPS repository; binding NAME syncs its folder NAME/ with srv/NAME.
struct HttpsDaemonFixture {
  TempDir dir;
  GitHttpsServer server{"deploy", kPassword};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc", state = dir / "state";
  int operator_port = FreePort();
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}, {"GITSYNCD_TEST_PASSWORD", kPassword}};
  std::unique_ptr<GitClone> person;

  explicit HttpsDaemonFixture(const std::vector<std::string>& bindings = {"app", "other"}) {
    server.CreateBareRepo("cfg");
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + state + "\nca_file: " + server.ca_file() +
                                          "\nlog_level: debug\noperator:\n  listen: 127.0.0.1:" + std::to_string(operator_port) + "\n");
    std::string yaml = "name: team\nprovider: git\nurl: " + server.url("cfg") +
                       "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\nsyncs:\n";
    for (const auto& b : bindings) yaml += "  - name: " + b + "\n    path: " + b + "\n    local: " + Local(b) + "\n";
    WriteFile(cfg + "/connectors.d/team.yaml", yaml);
    person = std::make_unique<GitClone>(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
    for (const auto& b : bindings) person->Write(b + "/seed.yaml", "seed: " + b + "\n");
    BOOST_REQUIRE(person->CommitAndPush("seed"));
  }
  std::string Local(const std::string& binding) const { return dir / ("srv/" + binding); }
  std::string Remote(const std::string& path) { return ShowFile(server.repo_path("cfg"), "main", path); }
  bool OnRemote(const std::string& path) {
    bool found = false;
    ShowFile(server.repo_path("cfg"), "main", path, &found);
    return found;
  }
  bool InFolder(const std::string& binding, const std::string& file) { return FileExists(Local(binding) + "/" + file); }
  void PersonPushes(const std::string& path, const std::string& content) {
    person->Pull();
    person->Write(path, content);
    BOOST_REQUIRE(person->CommitAndPush("person edits " + path));
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", cfg});
    return RunCommand(args, env, "", "", 120);
  }
  std::unique_ptr<DaemonProcess> StartDaemon() {
    auto d = std::make_unique<DaemonProcess>(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(d->WaitForNotify("READY=1"), d->Log());
    return d;
  }
  void StopDaemon(std::unique_ptr<DaemonProcess>& d) {
    d->Signal(SIGTERM);
    BOOST_TEST(d->Wait() == 0, d->Log());
    d.reset();
  }
  HttpReply Operator(const std::string& method, const std::string& target) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (method == "POST") headers.emplace_back("Content-Type", "application/json");
    return HttpExchange(operator_port, BuildRequest(method, target, headers, ""));
  }
  boost::json::object StatusOf(const std::string& binding) {
    CommandResult r = Cli({"status", "--json"});
    boost::json::value all = boost::json::parse(r.out);
    for (const auto& b : all.at("bindings").as_array()) {
      if (b.at("name").as_string() == binding) return b.as_object();
    }
    BOOST_FAIL("no binding " + binding + " in status: " + r.out);
    return {};
  }
};


}  // namespace gitsyncd::testing
