// Push-to-folder latency through a webhook, on loopback HTTPS: a real `gitsyncd run`, a real
// Git server (nginx + git http-backend, TLS, basic auth), a push made with the git CLI (not
// timed), then the clock runs from the POST of the provider's signed payload for that push
// until the file in the local folder has the new content. Prints p50/p90/max in ms.
//
// Usage: webhook_latency_bench GITSYNCD_BINARY [ROUNDS]   (default 30 rounds)
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GITSYNCD_BINARY [ROUNDS]\n", argv[0]);
    return 2;
  }
  std::string binary = argv[1];
  int rounds = argc > 2 ? std::atoi(argv[2]) : 30;
  TempDir dir;
  GitHttpsServer server("deploy", "bench-pass");
  server.CreateBareRepo("cfg");
  int port = FreePort();
  const std::string secret = "bench-hook-secret";
  std::string cfg = dir / "etc", local = dir / "srv/app";
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + server.ca_file() +
                                        "\nlisten:\n  address: 127.0.0.1\n  port: " + std::to_string(port) + "\n");
  WriteFile(cfg + "/connectors.d/team.yaml",
            "name: team\nprovider: github\nurl: " + server.url("cfg") +
                "\nauth:\n  username: deploy\n  password: {env: BENCH_PASS}\nwebhook:\n  enabled: true\n"
                "  secret: {env: BENCH_SECRET}\nsyncs:\n  - name: app\n    path: apps/app\n    local: " + local + "\n");
  std::map<std::string, std::string> env{{"BENCH_PASS", "bench-pass"}, {"BENCH_SECRET", secret}, {"GITSYNCD_CONFIG", ""}};
  if (const char* preload = std::getenv("BENCH_DAEMON_PRELOAD")) env["LD_PRELOAD"] = preload;
  CommandResult url = RunCommand({binary, "--config", cfg, "webhook-url", "team"}, env);
  if (url.exit_code != 0) {
    std::fprintf(stderr, "webhook-url failed: %s", url.err.c_str());
    return 1;
  }
  std::string path = url.out.substr(url.out.find("/webhooks/"));
  path.pop_back();

  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("apps/app/value.yaml", "round: 0\n");
  person.CommitAndPush("seed");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  if (!daemon.WaitForNotify("READY=1") || !WaitFor([&] { return FileExists(local + "/value.yaml"); })) {
    std::fprintf(stderr, "daemon did not start:\n%s", daemon.Log().c_str());
    return 1;
  }
  auto head = [&] {
    std::string h = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out;
    return h.substr(0, 40);
  };
  auto fixture = boost::json::parse(ReadFile(std::string(GITSYNCD_SOURCE_DIR) + "/tests/fixtures/webhooks/github-push.json"));
  std::vector<double> samples;
  for (int i = 1; i <= rounds; ++i) {
    std::string before = head();
    std::string want = "round: " + std::to_string(i) + "\n";
    person.Write("apps/app/value.yaml", want);
    person.CommitAndPush("round " + std::to_string(i));
    auto payload = fixture;
    auto& o = payload.as_object();
    o["ref"] = "refs/heads/main";
    o["before"] = before;
    o["after"] = head();
    o["repository"].as_object()["full_name"] = "git/cfg";
    std::string body = boost::json::serialize(payload);
    auto t0 = Clock::now();
    HttpReply r = HttpExchange(port, BuildRequest("POST", path,
                                                  {{"Content-Type", "application/json"},
                                                   {"X-GitHub-Event", "push"},
                                                   {"X-GitHub-Delivery", "bench-" + std::to_string(i)},
                                                   {"X-Hub-Signature-256", "sha256=" + HmacHex(secret, body)}},
                                                  body));
    bool ok = r.status == 202 && WaitFor([&] { return ReadFile(local + "/value.yaml") == want; },
                                         std::chrono::seconds(20), std::chrono::milliseconds(1));
    auto t1 = Clock::now();
    if (!ok) {
      std::fprintf(stderr, "round %d: status %d, file not updated\n%s", i, r.status, daemon.Log().c_str());
      return 1;
    }
    samples.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  if (std::getenv("BENCH_ACCESS_LOG")) std::fprintf(stderr, "%s", server.access_log().c_str());
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double p) { return samples[std::min(samples.size() - 1, static_cast<size_t>(p * samples.size()))]; };
  std::printf("| step | rounds | p50 ms | p90 ms | max ms |\n|---|---|---|---|---|\n");
  std::printf("| POST signed GitHub push -> file updated in folder | %d | %.1f | %.1f | %.1f |\n", rounds, pct(0.5),
              pct(0.9), samples.back());
  return 0;
}
