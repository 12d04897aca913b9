// Our own time per webhook delivery, without the network: WebhookService::Handle on a real
// signed ~8 KiB GitHub push (token check, sender detection, HMAC-SHA256, JSON parse, routing,
// record, queue), called N times with fresh delivery ids. Prints p50/p99/max in microseconds.
//
// Usage: webhook_handle_bench [N]   (default 20000)
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "config/config_loader.h"
#include "tests/support/temp_dir.h"
#include "webhooks/webhook_service.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  // The daemon logs each queued delivery at info (one line to the journal); here logging is
  // raised to warn so the table measures the handler, not the terminal.
  spdlog::set_level(spdlog::level::warn);
  TempDir dir;
  WriteFile(dir / "etc/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\n");
  WriteFile(dir / "etc/connectors.d/gh.yaml",
            "name: gh\nprovider: github\nurl: https://github.com/binkkatal/sample_app.git\nbranch: master\n"
            "webhook:\n  enabled: true\nsyncs:\n  - name: app\n    local: " + (dir / "srv") + "\n");
  ConfigLoadResult loaded = LoadConfig(dir / "etc");
  if (!loaded.ok()) {
    std::fprintf(stderr, "config: %s\n", loaded.errors.front().ToString().c_str());
    return 1;
  }
  auto config = std::make_shared<const Config>(loaded.config);
  auto token = WebhookTokens::Rotate(config->daemon, "gh");
  DeliveryLog log(dir / "state/webhooks/deliveries");
  const std::string secret = "bench-secret";
  WebhookService service(config, {{"gh", VerifyPolicy{secret, false, {}}}}, WebhookTokens::Load(config->daemon, {"gh"}),
                         &log, [](const std::string&, const std::string&, const std::string&) { return true; });
  std::string body = ReadFile(std::string(GITSYNCD_SOURCE_DIR) + "/tests/fixtures/webhooks/github-push.json");
  HttpRequest req;
  req.method = "POST";
  req.target = "/webhooks/gh/" + *token;
  req.body = body;
  req.remote_address = "127.0.0.1";
  req.headers = {{"content-type", "application/json"}, {"x-github-event", "push"},
                 {"x-hub-signature-256", "sha256=" + HmacHex(secret, body)}};
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    req.headers["x-github-delivery"] = "d-" + std::to_string(i);
    auto t0 = Clock::now();
    HttpResponse r = service.Handle(req);
    auto t1 = Clock::now();
    if (r.status != 202) {
      std::fprintf(stderr, "unexpected status %d: %s\n", r.status, r.body.c_str());
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))]; };
  std::printf("| step | payload bytes | deliveries | p50 us | p99 us | max us |\n|---|---|---|---|---|---|\n");
  std::printf("| WebhookService::Handle (verify, parse, route, record, queue) | %zu | %d | %.1f | %.1f | %.1f |\n",
              body.size(), n, pct(0.5), pct(0.99), us.back());
  return 0;
}
