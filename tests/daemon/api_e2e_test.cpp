// fetch: api through a real `gitsyncd run`: the connector reads its folder from the GitHub
// REST API test server (tests/support/provider_api_server.py, real bare repository behind it),
// with the token from the environment and the server's CA in gitsyncd.yaml's ca_file.
#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(daemon_pulls_a_folder_through_the_github_api) {
  TempDir dir;
  std::string bare = dir / "remote/monorepo.git";
  InitBareRepo(bare);
  GitClone person(bare, dir / "person");
  person.Write("dns/zones/example.com.yaml", "ttl: 300\n");
  person.Write("services/huge/blob.bin", std::string(100000, 'x'));
  BOOST_REQUIRE(person.CommitAndPush("seed"));
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
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/example.com.yaml"); }), daemon.Log());
  BOOST_TEST(ReadFile(local + "/example.com.yaml") == "ttl: 300\n");
  BOOST_TEST(!FileExists(local + "/blob.bin"));

  person.Write("dns/zones/example.com.yaml", "ttl: 60\n");
  BOOST_REQUIRE(person.CommitAndPush("lower ttl"));
  CommandResult now = RunCommand({binary, "--config", cfg, "sync-now", "zones"}, env);
  BOOST_TEST(now.exit_code == 0, now.err);
  BOOST_TEST(ReadFile(local + "/example.com.yaml") == "ttl: 60\n");

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
