// `gitsyncd import` against the provider API test server (GitHub's organization repository
// listing, paginated, with per-repository permissions): three repositories imported, a name
// that is already taken and a repository the token may not read skipped and reported; then
// `gitsyncd run` syncs all three. An import job also runs in a daemon sandboxed as its unit
// leaves it: the config directory read-only, the state directory and the import root writable.
#include <signal.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct ImportFixture {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc";
  std::string remotes = dir / "remotes/acme";
  std::string imports = dir / "state/imports.d";  // where import writes connector files
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}, {"GH_TOKEN", "ghp-import"}};
  std::unique_ptr<ProviderApiServer> api;

  explicit ImportFixture(const char* scopes = "repo, read:org") {
    std::map<std::string, std::string> repos;
    for (const char* name : {"alpha", "beta", "gamma", "delta", "team"}) {
      std::string bare = remotes + "/" + name + ".git";
      InitBareRepo(bare);
      GitClone p(bare, dir / (std::string("seed-") + name));
      p.Write("config.yaml", std::string("repo: ") + name + "\n");
      p.CommitAndPush("seed");
      repos[std::string("acme/") + name] = bare;
    }
    api = std::make_unique<ProviderApiServer>("ghp-import", repos, scopes);
    api->Control("{\"per_page_max\": 2, \"no_permission\": [\"acme/delta\"]}");  // 3 pages
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() + "\n");
    // An account connector; "team" (one of the repo names) is already taken by it.
    WriteFile(cfg + "/connectors.d/acme.yaml",
              "name: team\nprovider: github\nurl_type: account\nurl: file://" + remotes +
                  "\napi:\n  token: {env: GH_TOKEN}\n  url: " + api->api_url() +
                  "\ncommit_author:\n  name: Import Bot\n  email: import@example.com\n");
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", cfg});
    return RunCommand(args, env);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(import, ImportFixture)

BOOST_AUTO_TEST_CASE(import_all_repositories_then_they_sync) {
  CommandResult r = Cli({"import", "team", "--all", "--local-root", dir / "srv"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("imported acme/alpha as 'alpha'") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("imported acme/beta as 'beta'") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("imported acme/gamma as 'gamma'") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("skipped acme/delta: the API token may not read it") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("skipped acme/team: a connector or sync named 'team' already exists") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("3 imported, 2 skipped") != std::string::npos, r.out);
  BOOST_TEST(r.err.find("5/5") != std::string::npos, r.err);  // the progress bar reached the end
  BOOST_TEST(FileExists(imports + "/alpha.yaml"));
  BOOST_TEST(!FileExists(imports + "/delta.yaml"));
  CommandResult check = Cli({"check-config"});
  BOOST_TEST(check.exit_code == 0, check.err);

  // Importing again never overwrites: everything is skipped.
  std::string before = ReadFile(imports + "/alpha.yaml");
  CommandResult again = Cli({"import", "team", "--all", "--local-root", dir / "srv"});
  BOOST_TEST(again.out.find("skipped acme/alpha: a connector or sync named 'alpha' already exists") != std::string::npos,
             again.out);
  BOOST_TEST(ReadFile(imports + "/alpha.yaml") == before);

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  for (const char* name : {"alpha", "beta", "gamma"}) {
    std::string file = dir / (std::string("srv/") + name + "/config.yaml");
    BOOST_TEST(WaitFor([&] { return FileExists(file) && ReadFile(file) == std::string("repo: ") + name + "\n"; }),
               name << "\n" << daemon.Log());
  }
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(import_one_repository_with_a_new_name_and_the_name_rules) {
  CommandResult bad = Cli({"import", "team", "--repo", "alpha", "--name", "alpha--x", "--local", dir / "srv/a"});
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.out.find("name 'alpha--x' must not contain two special characters in a row") != std::string::npos,
             bad.out);
  for (const char* name : {"-alpha", "alpha.", "alpha.git"}) {
    CommandResult r = Cli({"import", "team", "--repo", "alpha", "--name", name, "--local", dir / "srv/a"});
    BOOST_TEST(r.exit_code == 1, name);
  }
  CommandResult ok = Cli({"import", "team", "--repo", "alpha", "--name", "Alpha Config", "--branch", "main", "--path",
                          "", "--local", dir / "srv/a", "--direction", "pull"});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  std::string yaml = ReadFile(imports + "/Alpha Config.yaml");
  BOOST_TEST(yaml.find("name: Alpha Config\n") != std::string::npos, yaml);
  BOOST_TEST(yaml.find("url: file://" + remotes + "/alpha.git\n") != std::string::npos, yaml);
  BOOST_TEST(yaml.find("token: {env: GH_TOKEN}") != std::string::npos, yaml);
  BOOST_TEST(yaml.find("ghp-import") == std::string::npos);  // secret references only, never values
  CommandResult missing = Cli({"import", "team", "--repo", "nope", "--local", dir / "srv/n"});
  BOOST_TEST(missing.exit_code == 1);
  BOOST_TEST(missing.err.find("no repository named 'nope' in ") != std::string::npos, missing.err);
}

BOOST_AUTO_TEST_CASE(import_runs_as_a_job_in_the_daemon_then_the_repos_sync) {
  int port = FreePort();
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                        "\noperator:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  CommandResult r = Cli({"import", "team", "--all", "--local-root", dir / "srv"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find("import job import-1 in the daemon") != std::string::npos, r.err);
  BOOST_TEST(r.out.find("3 imported, 2 skipped") != std::string::npos, r.out);
  // The daemon reloads itself and syncs the new connectors.
  for (const char* name : {"alpha", "beta", "gamma"}) {
    std::string file = dir / (std::string("srv/") + name + "/config.yaml");
    BOOST_TEST(WaitFor([&] { return FileExists(file); }), name << "\n" << daemon.Log());
  }
  // The same job over the local API.
  HttpReply status = HttpExchange(port, BuildRequest("GET", "/api/v1/imports/import-1", {}, ""));
  BOOST_TEST(status.status == 200);
  BOOST_TEST(status.body.find("\"state\":\"finished\"") != std::string::npos, status.body);
  BOOST_TEST(HttpExchange(port, BuildRequest("GET", "/api/v1/imports/import-9", {}, "")).status == 404);
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_canceled_import_leaves_nothing_behind) {
  int port = FreePort();
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                        "\noperator:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  api->Control("{\"delay_ms\": 600}");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  std::string body = "{\"connector\": \"team\", \"all\": true, \"local_root\": \"" + (dir / "srv") + "\"}";
  const std::vector<std::pair<std::string, std::string>> json{{"Content-Type", "application/json"}};
  HttpReply started = HttpExchange(port, BuildRequest("POST", "/api/v1/imports", json, body));
  BOOST_REQUIRE_MESSAGE(started.status == 202, started.body);
  BOOST_TEST(started.body.find("\"id\":\"import-1\"") != std::string::npos);
  CommandResult cancel = Cli({"import", "--cancel", "import-1"});
  BOOST_TEST(cancel.exit_code == 0, cancel.err);
  BOOST_TEST(WaitFor([&] {
    return HttpExchange(port, BuildRequest("GET", "/api/v1/imports/import-1", {}, "")).body.find("\"state\":\"canceled\"") !=
           std::string::npos;
  }, 10s));
  for (const auto& e : std::filesystem::directory_iterator(cfg + "/connectors.d")) {
    BOOST_TEST(e.path().filename() == "acme.yaml", e.path());
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(imports, ec)) {
    BOOST_TEST(false, "no new file, no temp file: " << e.path());
  }
  BOOST_TEST(HttpExchange(port, BuildRequest("POST", "/api/v1/imports", json, "{\"connector\": \"nope\", \"all\": true}"))
                 .status == 400);
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(import_names_missing_token_scopes) {
  ImportFixture f("repo");
  CommandResult r = f.Cli({"import", "team", "--all", "--local-root", f.dir / "srv"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("the API token needs the 'read:org' scope to list ") != std::string::npos, r.err);
  BOOST_TEST(!FileExists(f.imports + "/alpha.yaml"));
}

namespace {

// `sandbox CMD ARGS...` runs CMD as the unit's ProtectSystem=strict and ReadWritePaths= leave
// the service: in a mount namespace of its own, the whole test tree (config directory included)
// read-only, and only the state directory, the import root and the file:// remotes (network
// servers in real life) writable.
std::string WriteSandbox(const ImportFixture& f, const std::string& import_root) {
  std::string script = f.dir / "sandbox";
  WriteFile(script,
            "#!/bin/sh\nexec unshare --mount --propagation private sh -c '\n"
            "  set -e\n"
            "  mount --bind \"$0\" \"$0\"; mount -o remount,bind,ro \"$0\"\n"
            "  for rw in \"$1\" \"$2\" \"$3\"; do mount --bind \"$rw\" \"$rw\"; mount -o remount,bind,rw \"$rw\"; done\n"
            "  shift 3; exec \"$@\"' \"" + f.dir.path() + "\" \"" + (f.dir / "state") + "\" \"" + import_root + "\" \"" +
                (f.dir / "remotes") + "\" \"$@\"\n");
  ::chmod(script.c_str(), 0755);
  return script;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(an_import_through_the_running_service_works_inside_its_sandbox, ImportFixture) {
  if (RunCommand({"unshare", "--mount", "true"}).exit_code != 0) {
    BOOST_TEST_MESSAGE("cannot create a mount namespace here (needs root): the sandboxed import is not exercised");
    return;
  }
  int port = FreePort();
  std::string root = dir / "srv";
  std::filesystem::create_directories(root);
  std::filesystem::create_directories(dir / "state");
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                        "\nimport_roots: [" + root + "]\noperator:\n  listen: 127.0.0.1:" +
                                        std::to_string(port) + "\n");
  std::string sandbox = WriteSandbox(*this, root);
  // The sandbox holds: the config directory is read-only inside, the import root is not.
  BOOST_TEST(RunCommand({sandbox, "touch", cfg + "/connectors.d/x.yaml"}).exit_code != 0);
  BOOST_TEST(!FileExists(cfg + "/connectors.d/x.yaml"));
  BOOST_REQUIRE(RunCommand({sandbox, "touch", root + "/probe"}).exit_code == 0);
  std::filesystem::remove(root + "/probe");

  std::string service = dir / "gitsyncd-sandboxed";  // what DaemonProcess starts, with its arguments
  WriteFile(service, "#!/bin/sh\nexec " + sandbox + " " + binary + " \"$@\"\n");
  ::chmod(service.c_str(), 0755);
  DaemonProcess daemon(service, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  const std::vector<std::pair<std::string, std::string>> json{{"Content-Type", "application/json"}};
  // An import root is required for the folders: the sandbox would not let them be written elsewhere.
  HttpReply outside = HttpExchange(port, BuildRequest("POST", "/api/v1/imports", json,
                                                      "{\"connector\": \"team\", \"all\": true, \"local_root\": \"" +
                                                          (dir / "elsewhere") + "\"}"));
  BOOST_TEST(outside.status == 400);
  BOOST_TEST(outside.body.find("is not under import_roots (" + root + " in gitsyncd.yaml)") != std::string::npos,
             outside.body);

  HttpReply started = HttpExchange(port, BuildRequest("POST", "/api/v1/imports", json,
                                                      "{\"connector\": \"team\", \"all\": true, \"local_root\": \"" +
                                                          root + "\"}"));
  BOOST_REQUIRE_MESSAGE(started.status == 202, started.body);
  std::string job;
  BOOST_TEST(WaitFor([&] {
    job = HttpExchange(port, BuildRequest("GET", "/api/v1/imports/import-1", {}, "")).body;
    return job.find("\"state\":\"finished\"") != std::string::npos;
  }, 30s), job << daemon.Log());
  BOOST_TEST(job.find("\"imported\":3") != std::string::npos, job);
  BOOST_TEST(FileExists(imports + "/alpha.yaml"));
  // The daemon reloads with the imported connectors and syncs their folders under the root.
  for (const char* name : {"alpha", "beta", "gamma"}) {
    std::string file = root + "/" + name + "/config.yaml";
    BOOST_TEST(WaitFor([&] { return FileExists(file) && ReadFile(file) == std::string("repo: ") + name + "\n"; }, 30s),
               name << "\n" << daemon.Log());
  }
  CommandResult check = Cli({"check-config"});
  BOOST_TEST(check.exit_code == 0, check.err);
  // The drop-in makes the import root writable, so later imports need no new drop-in.
  CommandResult dropin = Cli({"systemd-drop-in"});
  BOOST_TEST(dropin.out.find("ReadWritePaths=\"-" + root + "\"\n") != std::string::npos, dropin.out);
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}
