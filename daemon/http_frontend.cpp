// The HTTP side of `gitsyncd run`: routes each request to the webhook service, the health
// check or an operator endpoint.
#include "daemon/http_frontend.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "daemon/metrics.h"
#include "daemon/status_json.h"
#include "daemon/status_page.h"
#include "webhooks/delivery_log.h"
#include "webhooks/http_server.h"
#include "webhooks/webhook_service.h"
#include "webhooks/webhook_tokens.h"

namespace gitsyncd {

namespace json = boost::json;

bool WantsListener(const Config& c) {
  if (c.daemon.listen.configured) return true;
  for (const auto& con : c.connectors) {
    if (con.webhook.enabled) return true;
  }
  return false;
}

struct HttpFrontend::Impl {
  Impl(const DaemonConfig& daemon, ImportJobs* jobs) : log_(daemon.state_dir + "/webhooks/deliveries"), jobs_(jobs) {}

  HttpResponse Handle(const HttpRequest& r) {
    std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/healthz") {
      HttpResponse res;
      res.status = ready_ ? 200 : 503;
      res.body = ready_ ? "{\"status\":\"ok\"}\n" : "{\"status\":\"starting\"}\n";
      return res;
    }
    std::shared_ptr<WebhookService> service;
    std::shared_ptr<SyncEngine> engine;
    std::shared_ptr<const Config> config;
    {
      std::lock_guard<std::mutex> lock(mu_);
      service = service_;
      engine = engine_;
      config = config_;
    }
    if (path.rfind(WebhookService::kPathPrefix, 0) == 0) {
      if (service) return service->Handle(r);
      return Error(503, "starting");
    }
    bool admin = path == "/" || path == "/ui/status.js" || path == "/metrics" || path.rfind("/api/", 0) == 0;
    if (!admin) return Error(404, "not found");
    // Operator endpoints answer only on loopback (put a reverse proxy with auth in front
    // to reach them from elsewhere).
    if (!r.from_loopback) {
      std::string auth = r.Header("authorization");
      bool token_ok = !admin_token_.empty() && auth.rfind("Bearer ", 0) == 0 &&
                      ConstantTimeEquals(auth.substr(7), admin_token_);
      if (!token_ok) {
        return Error(admin_token_.empty() ? 403 : 401,
                     admin_token_.empty() ? "only answered on loopback (set listen.admin_token to allow others)"
                                          : "missing or wrong admin token (Authorization: Bearer ...)");
      }
    }
    if (path == "/" || path == "/ui/status.js") {
      HttpResponse page;
      page.content_type = path == "/" ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
      page.body = std::string(path == "/" ? StatusPageHtml() : StatusPageScript());
      page.headers.emplace_back("Content-Security-Policy", std::string(kStatusPageCsp));
      page.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return page;
    }
    if (!engine || !config) return Error(503, "starting");
    if (path == "/metrics" && r.method == "GET") {
      HttpResponse res;
      res.content_type = "text/plain; version=0.0.4; charset=utf-8";
      res.body = RenderMetrics(engine->Snapshot(), engine->QueueDepth(),
                               service ? service->counters() : WebhookCounters{});
      return res;
    }
    if (path == "/api/v1/status" && r.method == "GET") return StatusJson(*config, *engine);
    if (path.rfind("/api/v1/imports", 0) == 0 && jobs_) return Imports(r, path, *config);
    const std::string prefix = "/api/v1/syncs/", suffix = "/sync";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (r.method != "POST") return Error(405, "use POST");
      std::string name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
      if (!engine->TriggerRemote(name, "api request")) return Error(404, "no sync binding named '" + name + "'");
      HttpResponse res;
      res.status = 202;
      res.body = json::serialize(json::object{{"queued", name}}) + "\n";
      return res;
    }
    return Error(404, "not found");
  }

  // POST /api/v1/imports (an import request as JSON) -> 202 {"id"}; GET /api/v1/imports/ID;
  // POST /api/v1/imports/ID/cancel. The job runs on its own thread, never here.
  HttpResponse Imports(const HttpRequest& r, const std::string& path, const Config& config) {
    if (path == "/api/v1/imports") {
      if (r.method != "POST") return Error(405, "use POST");
      json::error_code ec;
      auto v = json::parse(r.body, ec);
      if (ec) return Error(400, "the body is not JSON");
      auto req = ImportRequestFromJson(v);
      if (!req.ok()) return Error(400, req.status().message());
      auto id = jobs_->Start(config, *req);
      if (!id.ok()) return Error(400, id.status().message());
      HttpResponse res;
      res.status = 202;
      res.body = json::serialize(json::object{{"id", *id}}) + "\n";
      return res;
    }
    std::string rest = path.substr(std::string("/api/v1/imports/").size());
    bool cancel = rest.size() > 7 && rest.compare(rest.size() - 7, 7, "/cancel") == 0;
    std::string id = cancel ? rest.substr(0, rest.size() - 7) : rest;
    if (cancel != (r.method == "POST")) return Error(405, cancel ? "use POST" : "use GET");
    auto p = jobs_->Get(id);
    if (!p) return Error(404, "no import job " + id);
    if (cancel) jobs_->Cancel(id);
    HttpResponse res;
    res.status = cancel ? 202 : 200;
    res.body = json::serialize(json::object{{"id", id}, {"job", ToJson(*p)}}) + "\n";
    return res;
  }

  static HttpResponse Error(int status, const std::string& message) {
    HttpResponse res;
    res.status = status;
    res.body = json::serialize(json::object{{"error", message}}) + "\n";
    return res;
  }

  // The same objects as `gitsyncd status --json`, from the engine's copy of each state.json.
  static HttpResponse StatusJson(const Config& config, const SyncEngine& engine) {
    std::map<std::string, EngineBindingStatus> live;
    for (auto& b : engine.Snapshot()) live.emplace(b.name, std::move(b));
    json::array all;
    for (const auto& c : config.connectors) {
      for (const auto& s : c.syncs) {
        auto it = live.find(s.name);
        Result<BindingState> st = it != live.end() && it->second.state ? Result<BindingState>(*it->second.state)
                                                                       : Result<BindingState>(BindingState{});
        json::object o = BindingStatusJson(c, s, st);
        if (it != live.end()) {
          o["running"] = it->second.running;
          o["queued"] = it->second.queued;
          o["next_retry_in_s"] = it->second.next_retry_in_s;
          o["last_pass_ms"] = it->second.last_pass_seconds * 1000.0;
          o["last_pass_incremental"] = it->second.last_pass_incremental;
        }
        all.push_back(std::move(o));
      }
    }
    HttpResponse res;
    res.body = json::serialize(json::object{{"bindings", std::move(all)}}) + "\n";
    return res;
  }

  DeliveryLog log_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::shared_ptr<WebhookService> service_;
  std::shared_ptr<SyncEngine> engine_;
  std::shared_ptr<const Config> config_;
  std::string admin_token_;
  ImportJobs* jobs_ = nullptr;
  std::atomic<bool> ready_{false};
};

HttpFrontend::HttpFrontend(const DaemonConfig& daemon, ImportJobs* jobs)
    : impl_(std::make_unique<Impl>(daemon, jobs)) {}

HttpFrontend::~HttpFrontend() { Stop(); }

Status HttpFrontend::Start(const Config& config, const SecretStore* store) {
  const ListenConfig& listen = config.daemon.listen;
  // Lets clients off loopback use the operator endpoints with "Authorization: Bearer <token>".
  if (listen.admin_token.present()) {
    auto token = ResolveSecret(listen.admin_token, store, config.dir);
    if (!token.ok()) return token.status().WithContext("listen.admin_token");
    impl_->admin_token_ = *token;
  }
  HttpServerOptions o;
  o.address = listen.address;
  o.port = listen.port;
  o.tls_cert = listen.tls_cert;
  o.tls_key = listen.tls_key;
  o.max_body_bytes = listen.max_body_bytes;
  o.max_connections = listen.max_connections;
  o.read_timeout = listen.read_timeout;
  Impl* impl = impl_.get();
  auto server = HttpServer::Start(o, [impl](const HttpRequest& r) { return impl->Handle(r); });
  if (!server.ok()) return server.status();
  impl_->server_ = std::move(server).value();
  spdlog::info("listening on {}://{}:{}", listen.tls_cert.empty() ? "http" : "https", listen.address,
               impl_->server_->port());
  return Status::Ok();
}

void HttpFrontend::Use(const Config& config, std::shared_ptr<SyncEngine> engine,
                       const std::map<std::string, VerifyPolicy>& webhook_policies) {
  auto shared = std::make_shared<const Config>(config);
  std::vector<std::string> ids;
  for (const auto& c : shared->connectors) ids.push_back(ConnectorId(c.name));
  WebhookTokens tokens = WebhookTokens::Load(shared->daemon, ids);
  for (const auto& p : tokens.problems()) spdlog::error("webhooks: {}", p);
  std::weak_ptr<SyncEngine> weak = engine;
  auto service = std::make_shared<WebhookService>(
      shared, webhook_policies, std::move(tokens), &impl_->log_,
      [weak](const std::string& binding, const std::string& reason) {
        auto e = weak.lock();
        return e && e->TriggerRemote(binding, reason);
      });
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->service_ = std::move(service);
  impl_->engine_ = std::move(engine);
  impl_->config_ = shared;
}

void HttpFrontend::SetReady(bool ready) { impl_->ready_ = ready; }

void HttpFrontend::Stop() {
  if (impl_->server_) impl_->server_->Stop();
  impl_->log_.Flush();
}

}  // namespace gitsyncd
