// libFuzzer target for everything a webhook sender controls: headers pick the format, the
// body goes through form decoding, signature checks, the JSON parser (the filtered one, which
// must agree with the full-document reference), each provider's payload reader and the router. Build with -DGITSYNCD_FUZZ=ON (clang); scripts/fuzz runs it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "webhooks/payload_parser.h"
#include "webhooks/webhook_router.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;

namespace {

const ConnectorConfig& Connector() {
  static ConnectorConfig c = [] {
    ConnectorConfig con;
    con.name = "fuzz";
    con.provider = Provider::kGit;
    SyncBinding b;
    b.name = "app";
    b.branch = "main";
    b.local = "/srv/app";
    b.remote_url = "https://git.example.com/org/repo.git";
    con.syncs.push_back(b);
    return con;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: sender format and event; second: content type; the rest is the body.
  static const char* kEvents[] = {"push", "ping", "repo:push", "repo:refs_changed", "diagnostics:ping", "Push Hook", ""};
  WebhookFormat format = static_cast<WebhookFormat>(data[0] % 6);
  std::string event = kEvents[(data[0] / 6) % 7];
  std::string content_type = data[1] & 1 ? "application/x-www-form-urlencoded" : "application/json";
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);

  HeaderMap headers{{"x-hub-signature-256", "sha256=" + body.substr(0, 64)},
                    {"x-hub-signature", body.substr(0, 20)},
                    {"authorization", "Basic " + body.substr(0, 24)},
                    {"x-gitlab-token", body.substr(0, 8)}};
  (void)DetectFormat(headers);
  (void)ClassifyContentType(body.substr(0, 40));
  for (bool sha1 : {false, true}) {
    WebhookVerifier v({"fuzz-secret", sha1, {}});
    (void)v.Verify(format, event, headers, body);
  }
  std::string text = body;
  if (ClassifyContentType(content_type) == BodyEncoding::kForm) {
    auto form = FormPayload(body);
    if (!form.ok()) return 0;
    text = *form;
  }
  auto parsed = ParsePushEvent(format, event, text);
  // The filtered parse must agree with the full-document reference on every input.
  auto full = ParsePushEventFullDocument(format, event, text);
  if (parsed.ok() != full.ok()) __builtin_trap();
  if (!parsed.ok()) {
    if (parsed.status().message() != full.status().message()) __builtin_trap();
    return 0;
  }
  if (parsed->event != full->event || parsed->delivery_id != full->delivery_id || parsed->ping != full->ping ||
      parsed->push != full->push || parsed->repo_full_name != full->repo_full_name ||
      parsed->repo_name != full->repo_name || parsed->changes.size() != full->changes.size()) {
    __builtin_trap();
  }
  for (size_t i = 0; i < parsed->changes.size(); ++i) {
    const RefChange &a = parsed->changes[i], &b = full->changes[i];
    if (a.ref != b.ref || a.branch != b.branch || a.before != b.before || a.after != b.after ||
        a.created != b.created || a.deleted != b.deleted || a.forced != b.forced) {
      __builtin_trap();
    }
  }
  (void)RoutePush(Connector(), *parsed);
  return 0;
}
