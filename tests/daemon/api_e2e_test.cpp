// fetch: api through a real `gitsyncd run`: the connector reads its folder from the provider
// REST API test server (tests/support/provider_api_server.py, real bare repository behind it)
// and writes local edits back through the provider's commit API, with the token from the
// environment and the server's CA in gitsyncd.yaml's ca_file.
#include <signal.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

// The synced folder dns/zones holds one zone; a 100 kB file lies outside it.
void SeedMonorepo(GitClone& person) {
  person.Write("dns/zones/example.com.yaml", "ttl: 300\n");
  person.Write("services/huge/blob.bin", std::string(100000, 'x'));
  BOOST_REQUIRE(person.CommitAndPush("seed"));
}

// The daemon's first pass brings the folder (and nothing outside it); a push then arrives
// with `sync_now`.
void ExpectFirstPassThenAPush(DaemonProcess& daemon, GitClone& person, const std::vector<std::string>& sync_now,
                              const std::map<std::string, std::string>& env, const std::string& local) {
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/example.com.yaml"); }), daemon.Log());
  BOOST_TEST(ReadFile(local + "/example.com.yaml") == "ttl: 300\n");
  BOOST_TEST(!FileExists(local + "/blob.bin"));
  person.Write("dns/zones/example.com.yaml", "ttl: 60\n");
  BOOST_REQUIRE(person.CommitAndPush("lower ttl"));
  CommandResult now = RunCommand(sync_now, env);
  BOOST_TEST(now.exit_code == 0, now.err);
  BOOST_TEST(ReadFile(local + "/example.com.yaml") == "ttl: 60\n");
}

}  // namespace

BOOST_AUTO_TEST_CASE(daemon_pulls_a_folder_through_the_github_api) {
  TempDir dir;
  std::string bare = dir / "remote/monorepo.git";
  InitBareRepo(bare);
  GitClone person(bare, dir / "person");
  SeedMonorepo(person);
  ProviderApiServer api("ghp-e2e-token", {{"acme/monorepo", bare}});

  std::string cfg = dir / "etc", local = dir / "srv/zones";
  int port = FreePort();
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api.ca_file() +
                                        "\nlisten:\n  port: " + std::to_string(port) + "\n");
  WriteFile(cfg + "/connectors.d/mono.yaml",
            "name: mono\nprovider: github\nurl: https://github.acme.example/acme/monorepo.git\n"
            "api:\n  token: {env: GH_TOKEN}\n  url: " + api.api_url() +
                "\nfetch: api\nwebhook:\n  enabled: true\nsyncs:\n  - name: zones\n    path: dns/zones\n    local: " +
                local + "\n    direction: pull\n");
  std::map<std::string, std::string> env{{"GH_TOKEN", "ghp-e2e-token"}, {"GITSYNCD_CONFIG", ""}};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");

  CommandResult test = RunCommand({binary, "--config", cfg, "test-connection", "mono"}, env);
  BOOST_TEST(test.exit_code == 0, test.err);
  BOOST_TEST(test.out.find("OK: acme/monorepo (API " + api.api_url() + "): token accepted (scopes not reported), "
                           "branch main at ") == 0u, test.out);

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  ExpectFirstPassThenAPush(daemon, person, {binary, "--config", cfg, "sync-now", "zones"}, env, local);

  // A webhook delivery triggers the API pass the same way (no polling configured).
  CommandResult url = RunCommand({binary, "--config", cfg, "webhook-url", "mono"}, env);
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  std::string path = url.out.substr(url.out.find("/webhooks/"));
  path.pop_back();
  person.Write("dns/zones/example.com.yaml", "ttl: 30\n");
  BOOST_REQUIRE(person.CommitAndPush("lower again"));
  std::string body = "{\"ref\": \"refs/heads/main\", \"before\": \"\", \"after\": \"" + person.Head() +
                     "\", \"repository\": {\"full_name\": \"acme/monorepo\", \"name\": \"monorepo\"}}";
  HttpReply hook = HttpExchange(port, BuildRequest("POST", path,
                                                   {{"Content-Type", "application/json"},
                                                    {"X-GitHub-Event", "push"},
                                                    {"X-GitHub-Delivery", "api-1"}},
                                                   body));
  BOOST_TEST(hook.status == 202, hook.body);
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/example.com.yaml") == "ttl: 30\n"; }, 10s), daemon.Log());

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.Log().find("ghp-e2e-token") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(test_connection_names_a_missing_token_scope) {
  TempDir dir;
  std::string bare = dir / "remote/monorepo.git";
  InitBareRepo(bare);
  GitClone person(bare, dir / "person");
  person.Write("a.yaml", "a: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  std::string cfg = dir / "etc";
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::map<std::string, std::string> env{{"GH_TOKEN", "classic"}, {"GITSYNCD_CONFIG", ""}};
  auto write_config = [&](const ProviderApiServer& api) {
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api.ca_file() + "\n");
    WriteFile(cfg + "/connectors.d/mono.yaml",
              "name: mono\nprovider: github\nurl: https://github.acme.example/acme/monorepo.git\n"
              "api:\n  token: {env: GH_TOKEN}\n  url: " + api.api_url() +
                  "\nfetch: api\nsyncs:\n  - name: all\n    local: " + (dir / "srv") + "\n    direction: pull\n");
  };
  {
    ProviderApiServer api("classic", {{"acme/monorepo", bare}}, "read:org, gist");
    write_config(api);
    CommandResult r = RunCommand({binary, "--config", cfg, "test-connection", "mono"}, env);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("the API token lacks the 'repo' scope needed to read acme/monorepo (it has: read:org, gist)") !=
                   std::string::npos,
               r.err);
  }
  {
    ProviderApiServer api("classic", {{"acme/monorepo", bare}}, "repo, read:org");
    write_config(api);
    CommandResult r = RunCommand({binary, "--config", cfg, "test-connection", "mono"}, env);
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out.find("token accepted, scopes: repo, read:org, branch main at") != std::string::npos, r.out);
    env["GH_TOKEN"] = "revoked";
    r = RunCommand({binary, "--config", cfg, "test-connection", "mono"}, env);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("the API token was refused (HTTP 401)") != std::string::npos, r.err);
  }
}

namespace {

// How each provider's connector names the test server's repository.
struct ProviderSetup {
  const char* provider;
  const char* url;
  std::function<std::string(const ProviderApiServer&)> api_url;
  const char* author;  // the commit author the remote records
};

std::vector<ProviderSetup> Providers() {
  return {
      {"github", "https://github.acme.example/acme/monorepo.git", [](auto& s) { return s.api_url(); },
       "Zone Bot <zones@acme.example>"},
      {"gitlab", "https://gitlab.acme.example/acme/monorepo.git", [](auto& s) { return s.gitlab_api_url(); },
       "Zone Bot <zones@acme.example>"},
      {"bitbucket-cloud", "https://bitbucket.org/acme/monorepo.git", [](auto& s) { return s.bitbucket_cloud_url(); },
       "Zone Bot <zones@acme.example>"},
      // Bitbucket Server's file edit API records the token's user as the author.
      {"bitbucket-server", "https://bitbucket.acme.example/scm/ACME/monorepo.git",
       [](auto& s) { return s.bitbucket_server_url(); }, "Bitbucket Token User <token-user@bitbucket.example>"},
      {"azure-repos", "https://dev.azure.com/acme/platform/_git/monorepo",
       [](auto& s) { return s.azure_api_url("acme", "platform"); }, "Zone Bot <zones@acme.example>"},
  };
}

std::vector<std::string> ProviderNames() {
  std::vector<std::string> names;
  for (const auto& p : Providers()) names.push_back(p.provider);
  return names;
}

}  // namespace

// Per provider, through `gitsyncd run`: the first pass brings the folder, a push arrives with
// sync-now, and an edit in the local folder reaches the remote through the provider's commit
// API (never a clone), by the connector's commit author.
BOOST_DATA_TEST_CASE(daemon_syncs_both_ways_through_each_provider_api, boost::unit_test::data::make(ProviderNames()),
                     name) {
  ProviderSetup setup;
  for (const auto& p : Providers()) {
    if (name == p.provider) setup = p;
  }
  TempDir dir;
  std::string bare = dir / "remote/monorepo.git";
  InitBareRepo(bare);
  GitClone person(bare, dir / "person");
  SeedMonorepo(person);
  ProviderApiServer api("e2e-token", {{"acme/monorepo", bare}});

  std::string cfg = dir / "etc", local = dir / "srv/zones";
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api.ca_file() + "\n");
  WriteFile(cfg + "/connectors.d/mono.yaml",
            std::string("name: mono\nprovider: ") + setup.provider + "\nurl: " + setup.url +
                "\napi:\n  token: {env: API_TOKEN}\n  url: " + setup.api_url(api) +
                "\nfetch: api\ncommit_author:\n  name: Zone Bot\n  email: zones@acme.example\n"
                "syncs:\n  - name: zones\n    path: dns/zones\n    local: " + local +
                "\n    direction: bidirectional\n");
  std::map<std::string, std::string> env{{"API_TOKEN", "e2e-token"}, {"GITSYNCD_CONFIG", ""}};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  ExpectFirstPassThenAPush(daemon, person, {binary, "--config", cfg, "sync-now", "zones"}, env, local);

  // A local edit is written back by the file watcher's pass.
  WriteFile(local + "/example.com.yaml", "ttl: 120\n");
  WriteFile(local + "/example.org.yaml", "ttl: 3600\n");
  BOOST_TEST(WaitFor([&] {
               return ShowFile(bare, "main", "dns/zones/example.com.yaml") == "ttl: 120\n" &&
                      ShowFile(bare, "main", "dns/zones/example.org.yaml") == "ttl: 3600\n";
             }),
             daemon.Log());
  std::string author = LogFormat(bare, "main", "%an <%ae>");
  BOOST_TEST(author == std::string(setup.author) + "\n");
  BOOST_TEST(ShowFile(bare, "main", "services/huge/blob.bin").size() == 100000u);
  person.Pull();
  BOOST_TEST(ReadFile(person.dir() + "/dns/zones/example.org.yaml") == "ttl: 3600\n");

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.Log().find("e2e-token") == std::string::npos);
}
