#include "daemon/operator_api.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include "config/text.h"
#include "daemon/metrics.h"
#include "daemon/status_json.h"
#include "daemon/status_page.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {

namespace json = boost::json;

struct OperatorApi::State {
  std::mutex mu;
  std::shared_ptr<const Config> config;
  std::shared_ptr<SyncEngine> engine;
  std::function<WebhookCounters()> webhook_counters;
};

namespace {


// The host part of a Host header or URL authority ("[::1]:8788" -> "::1", "a.b:1" -> "a.b").
std::string HostName(std::string authority) {
  authority = AsciiLower(std::move(authority));
  if (!authority.empty() && authority[0] == '[') {
    size_t end = authority.find(']');
    return end == std::string::npos ? std::string() : authority.substr(1, end - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A DNS name can be pointed at 127.0.0.1 by whoever owns it (DNS rebinding), so only names
// that cannot be rebound, or that the operator listed, are served.
std::string RefuseHost(const HttpRequest& r, const OperatorAccess& access) {
  std::string host_header = r.Header("host");
  if (host_header.empty()) return "a Host header is required";
  std::string host = HostName(host_header);
  if (host == "localhost" || IsIpLiteral(host)) return {};
  if (std::find(access.hosts.begin(), access.hosts.end(), host) != access.hosts.end()) return {};
  return "Host '" + host + "' is not served here (localhost, IP addresses and operator.hosts are)";
}

// A page of another origin in the operator's browser must not drive the daemon (CSRF).
std::string RefuseCrossSite(const HttpRequest& r) {
  std::string site = AsciiLower(r.Header("sec-fetch-site"));
  if (!site.empty() && site != "same-origin" && site != "none") return "cross-site request refused";
  std::string origin = r.Header("origin");
  if (origin.empty()) return {};
  size_t scheme_end = origin.find("://");
  std::string authority = scheme_end == std::string::npos ? "" : origin.substr(scheme_end + 3);
  if (authority.empty() || authority.find('/') != std::string::npos || AsciiLower(authority) != AsciiLower(r.Header("host"))) {
    return "cross-origin request refused (Origin " + origin.substr(0, 200) + ")";
  }
  return {};
}

// Bearer TOKEN, or Basic with the token as the password (any user name).
bool CarriesToken(const HttpRequest& r, const std::string& token) {
  std::string auth = r.Header("authorization");
  std::string scheme = AsciiLower(auth.substr(0, auth.find(' ')));
  std::string value = auth.size() > scheme.size() ? auth.substr(scheme.size() + 1) : "";
  if (scheme == "bearer") return ConstantTimeEquals(value, token);
  if (scheme != "basic" || value.size() > 4096) return false;
  std::string creds(value.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(creds.data()), creds.size(), value.data(), value.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  creds.resize(len);
  size_t colon = creds.find(':');
  bool ok = colon != std::string::npos && ConstantTimeEquals(std::string_view(creds).substr(colon + 1), token);
  sodium_memzero(creds.data(), creds.size());
  return ok;
}

bool IsJson(const HttpRequest& r) {
  std::string type = AsciiLower(r.Header("content-type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
}

// The answer that refuses a request before any endpoint sees it, or nothing.
std::optional<HttpResponse> Gate(const HttpRequest& r, const OperatorAccess& access) {
  if (std::string why = RefuseHost(r, access); !why.empty()) return JsonErrorResponse(403, why);
  if (std::string why = RefuseCrossSite(r); !why.empty()) return JsonErrorResponse(403, why);
  if (!access.admin_token.empty() && !CarriesToken(r, access.admin_token)) {
    HttpResponse res = JsonErrorResponse(401, "missing or wrong admin token (Authorization: Bearer ...)");
    res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"gitsyncd operator\", charset=\"UTF-8\"");
    return res;
  }
  // A form or a no-cors fetch cannot send application/json without a CORS preflight, which
  // nothing here answers.
  if (r.method != "GET" && r.method != "HEAD" && !IsJson(r)) {
    return JsonErrorResponse(415, "a " + r.method.substr(0, 16) + " request needs Content-Type: application/json");
  }
  return std::nullopt;
}

HttpResponse StatusPage(const std::string& path) {
  HttpResponse page;
  page.content_type = path == "/" ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
  page.body = std::string(path == "/" ? StatusPageHtml() : StatusPageScript());
  page.headers.emplace_back("Content-Security-Policy", std::string(kStatusPageCsp));
  page.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return page;
}

// The same objects as `gitsyncd status --json`, from the engine's copy of each state.json.
HttpResponse StatusJson(const Config& config, const SyncEngine& engine, const DeliveryLog* deliveries) {
  std::map<std::string, EngineBindingStatus> live;
  for (auto& b : engine.Snapshot()) live.emplace(b.name, std::move(b));
  json::array all;
  for (const auto& c : config.connectors) {
    std::vector<DeliveryRecord> recent;
    if (deliveries) recent = deliveries->Recent(ConnectorId(c.name), kStatusDeliveries);
    for (const auto& s : c.syncs) {
      auto it = live.find(s.name);
      Result<BindingState> st = it != live.end() && it->second.state ? Result<BindingState>(*it->second.state)
                                                                     : Result<BindingState>(BindingState{});
      json::object o = BindingStatusJson(c, s, st);
      if (it != live.end()) {
        o["running"] = it->second.running;
        o["queued"] = it->second.queued;
        o["paused"] = it->second.paused;  // at once; state.json follows when no pass runs
        o["next_retry_in_s"] = it->second.next_retry_in_s;
        o["last_pass_ms"] = it->second.last_pass_seconds * 1000.0;
        o["last_pass_incremental"] = it->second.last_pass_incremental;
        AddPassesJson(o, c, s, it->second.recent_passes);
      }
      AddDeliveriesJson(o, recent);
      all.push_back(std::move(o));
    }
  }
  HttpResponse res;
  res.body = json::serialize(json::object{{"bindings", std::move(all)}}) + "\n";
  return res;
}

// POST /api/v1/imports (an import request as JSON) -> 202 {"id"}; GET /api/v1/imports/ID;
// POST /api/v1/imports/ID/cancel. The job runs on its own thread, never here.
HttpResponse Imports(ImportJobs* jobs, const HttpRequest& r, const std::string& path, const Config& config) {
  ImportJobs::Answer answer;
  if (path == "/api/v1/imports") {
    if (r.method != "POST") return JsonErrorResponse(405, "use POST");
    answer = jobs->Handle(config, "start", r.body);
  } else {
    std::string rest = path.substr(std::string("/api/v1/imports/").size());
    bool cancel = rest.size() > 7 && rest.compare(rest.size() - 7, 7, "/cancel") == 0;
    if (cancel != (r.method == "POST")) return JsonErrorResponse(405, cancel ? "use POST" : "use GET");
    answer = jobs->Handle(config, cancel ? "cancel" : "status", cancel ? rest.substr(0, rest.size() - 7) : rest);
  }
  HttpResponse res;
  res.status = answer.status;
  res.body = json::serialize(answer.body) + "\n";
  return res;
}

// POST /api/v1/syncs/NAME/sync queues a full pass.
HttpResponse SyncRequest(SyncEngine& engine, const HttpRequest& r, const std::string& name) {
  if (r.method != "POST") return JsonErrorResponse(405, "use POST");
  if (!engine.TriggerRemote(name, "api request")) return JsonErrorResponse(404, "no sync binding named '" + name + "'");
  HttpResponse res;
  res.status = 202;
  res.body = json::serialize(json::object{{"queued", name}}) + "\n";
  return res;
}

// POST /api/v1/syncs/NAME/pause and /resume: the change is made at once in the engine (no
// pass starts after a pause) and saved to state.json off this thread as soon as no pass of
// the binding runs.
HttpResponse PauseRequest(SyncEngine& engine, const HttpRequest& r, const std::string& name, bool pause) {
  if (r.method != "POST") return JsonErrorResponse(405, "use POST");
  Status s = engine.SetPaused(name, pause, std::chrono::milliseconds(0));
  if (s.code() == Status::Code::kNotFound) return JsonErrorResponse(404, "no sync binding named '" + name + "'");
  if (!s.ok()) return JsonErrorResponse(503, s.message());
  HttpResponse res;
  res.status = 202;
  res.body = json::serialize(json::object{{"binding", name}, {"paused", pause}}) + "\n";
  return res;
}

}  // namespace

OperatorApi::OperatorApi(OperatorAccess access, ImportJobs* jobs, const DeliveryLog* deliveries)
    : access_(std::move(access)), jobs_(jobs), deliveries_(deliveries), state_(std::make_shared<State>()) {}

void OperatorApi::Use(std::shared_ptr<const Config> config, std::shared_ptr<SyncEngine> engine,
                      std::function<WebhookCounters()> webhook_counters) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->config = std::move(config);
  state_->engine = std::move(engine);
  state_->webhook_counters = std::move(webhook_counters);
}

HttpResponse OperatorApi::Handle(const HttpRequest& r) const {
  if (auto refused = Gate(r, access_)) return *refused;
  std::string path = r.target.substr(0, r.target.find('?'));
  if (path == "/" || path == "/ui/status.js") return StatusPage(path);
  std::shared_ptr<const Config> config;
  std::shared_ptr<SyncEngine> engine;
  std::function<WebhookCounters()> counters;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    config = state_->config;
    engine = state_->engine;
    counters = state_->webhook_counters;
  }
  if (path != "/metrics" && path.rfind("/api/", 0) != 0) return JsonErrorResponse(404, "not found");
  if (!engine || !config) return JsonErrorResponse(503, "starting");
  if (path == "/metrics" && r.method == "GET") {
    HttpResponse res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = RenderMetrics(engine->Snapshot(), engine->QueueDepth(), counters ? counters() : WebhookCounters{});
    return res;
  }
  if (path == "/api/v1/status" && r.method == "GET") return StatusJson(*config, *engine, deliveries_);
  if (path == "/api/v1/fleet" && r.method == "GET") {
    if (!fleet_json_) return JsonErrorResponse(404, "this daemon runs standalone (gitsyncd.yaml has no `cluster:` section)");
    HttpResponse res;
    res.body = fleet_json_() + "\n";
    return res;
  }
  if (path.rfind("/api/v1/imports", 0) == 0 && jobs_) return Imports(jobs_, r, path, *config);
  const std::string prefix = "/api/v1/syncs/";
  size_t slash = path.rfind('/');
  if (path.rfind(prefix, 0) == 0 && slash > prefix.size()) {
    std::string name = path.substr(prefix.size(), slash - prefix.size());
    std::string action = path.substr(slash + 1);
    if (action == "sync") return SyncRequest(*engine, r, name);
    if (action == "pause" || action == "resume") return PauseRequest(*engine, r, name, action == "pause");
  }
  return JsonErrorResponse(404, "not found");
}

}  // namespace gitsyncd
