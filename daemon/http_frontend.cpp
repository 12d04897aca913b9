// The HTTP side of `gitsyncd run`: the public listener routes to the webhook service and the
// health check; the operator listener hands every request to OperatorApi.
#include "daemon/http_frontend.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "daemon/operator_api.h"
#include "webhooks/delivery_log.h"
#include "webhooks/http_server.h"
#include "webhooks/webhook_service.h"
#include "webhooks/webhook_tokens.h"

namespace gitsyncd {

namespace {

bool WantsPublicListener(const Config& c) {
  if (c.daemon.listen.configured) return true;
  for (const auto& con : c.connectors) {
    if (con.webhook.enabled) return true;
  }
  return false;
}

HttpResponse Health(bool ready) {
  HttpResponse res;
  res.status = ready ? 200 : 503;
  res.body = ready ? "{\"status\":\"ok\"}\n" : "{\"status\":\"starting\"}\n";
  return res;
}

HttpResponse NotFound() { return JsonErrorResponse(404, "not found"); }

}  // namespace

bool WantsListener(const Config& c) {
  return WantsPublicListener(c) || c.daemon.operator_api.tcp || !c.daemon.operator_api.socket.empty();
}

struct HttpFrontend::Impl {
  Impl(const DaemonConfig& daemon, ImportJobs* import_jobs)
      : log(DeliveryLog::Dir(daemon.state_dir)), jobs(import_jobs) {}

  // The public listener: webhooks and the health check, nothing else.
  HttpResponse HandlePublic(const HttpRequest& r) {
    std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/healthz") return Health(ready);
    if (path.rfind(WebhookService::kPathPrefix, 0) != 0) return NotFound();
    std::shared_ptr<WebhookService> current;
    {
      std::lock_guard<std::mutex> lock(mu);
      current = service;
    }
    if (current) return current->Handle(r);
    return Health(false);
  }

  // Before any body byte is read: a webhook URL's token decides; other paths need no body.
  HeaderVerdict CheckPublicHeaders(const HttpRequest& r) {
    if (r.target.rfind(WebhookService::kPathPrefix, 0) != 0) return {};
    std::shared_ptr<WebhookService> current;
    {
      std::lock_guard<std::mutex> lock(mu);
      current = service;
    }
    if (current) return current->CheckHeaders(r);
    HeaderVerdict starting;
    starting.answer = Health(false);
    return starting;
  }

  Status StartPublic(const ListenConfig& listen) {
    HttpServerOptions o;
    o.address = listen.address;
    o.port = listen.port;
    o.tls_cert = listen.tls_cert;
    o.tls_key = listen.tls_key;
    o.max_body_bytes = listen.max_body_bytes;
    o.max_connections = listen.max_connections;
    o.read_timeout = listen.read_timeout;
    o.header_timeout = listen.header_timeout;
    auto server = HttpServer::Start(
        o, [this](const HttpRequest& r) { return HandlePublic(r); },
        [this](const HttpRequest& r) { return CheckPublicHeaders(r); });
    if (!server.ok()) return server.status();
    public_server = std::move(server).value();
    spdlog::info("listening on {}://{}:{} (webhooks)", listen.tls_cert.empty() ? "http" : "https", listen.address,
                 public_server->port());
    return Status::Ok();
  }

  // TCP (unless `listen: off`) and the unix socket (when set) serve the same endpoints. A
  // listener nobody configured (no `operator:` section) that cannot bind is a warning, not a
  // failed start: a second daemon on the host must not fail for want of the default port.
  Status StartOperator(const OperatorConfig& oc, std::string admin_token) {
    operator_api = std::make_unique<OperatorApi>(OperatorAccess{std::move(admin_token), oc.hosts}, jobs, &log);
    FeedOperator();
    if (fleet_json) operator_api->SetFleet(fleet_json);
    OperatorApi* api = operator_api.get();
    auto handler = [api](const HttpRequest& r) { return api->Handle(r); };
    HttpServerOptions o;
    o.max_body_bytes = kOperatorMaxBody;
    o.max_connections = kOperatorMaxConnections;
    if (oc.tcp) {
      HttpServerOptions t = o;
      t.address = oc.address;
      t.port = oc.port;
      t.tls_cert = oc.tls_cert;
      t.tls_key = oc.tls_key;
      auto server = HttpServer::Start(t, handler);
      if (server.ok()) {
        operator_server = std::move(server).value();
        spdlog::info("operator endpoints on {}://{}:{}", oc.tls_cert.empty() ? "http" : "https", oc.address,
                     operator_server->port());
      } else if (oc.configured) {
        return server.status().WithContext("operator.listen");
      } else {
        spdlog::warn("the status page, /metrics and /api/v1 are not served: {}; set operator.listen in "
                     "gitsyncd.yaml to a free ADDRESS:PORT, or to off",
                     server.status().message());
      }
    }
    if (oc.socket.empty()) return Status::Ok();
    HttpServerOptions u = o;
    u.unix_socket = oc.socket;
    auto server = HttpServer::Start(u, handler);
    if (!server.ok()) return server.status().WithContext("operator.socket");
    operator_socket_server = std::move(server).value();
    spdlog::info("operator endpoints on unix socket {}", oc.socket);
    return Status::Ok();
  }

  // Import requests are small; a handful of operators and scrapers at a time.
  // Hands the operator endpoints the config and engine last given to Use().
  void FeedOperator() {
    std::shared_ptr<const Config> c;
    std::shared_ptr<SyncEngine> e;
    std::weak_ptr<WebhookService> counted;
    {
      std::lock_guard<std::mutex> lock(mu);
      c = config;
      e = engine;
      counted = service;
    }
    if (!operator_api || !c) return;
    operator_api->Use(c, e, [counted] {
      auto s = counted.lock();
      return s ? s->counters() : WebhookCounters{};
    });
  }

  static constexpr uint64_t kOperatorMaxBody = 1024 * 1024;
  static constexpr unsigned kOperatorMaxConnections = 32;

  DeliveryLog log;
  ImportJobs* jobs;
  std::unique_ptr<HttpServer> public_server, operator_server, operator_socket_server;
  std::unique_ptr<OperatorApi> operator_api;
  std::mutex mu;
  std::shared_ptr<WebhookService> service;
  std::shared_ptr<const Config> config;
  std::shared_ptr<SyncEngine> engine;
  std::atomic<bool> ready{false};
  HttpFrontend::Trigger trigger;  // set before the first Use(), then only read
  std::function<std::string()> fleet_json;  // set before Start(), then only read
};

HttpFrontend::HttpFrontend(const DaemonConfig& daemon, ImportJobs* jobs)
    : impl_(std::make_unique<Impl>(daemon, jobs)) {}

HttpFrontend::~HttpFrontend() { Stop(); }

Status HttpFrontend::Start(const Config& config, const SecretStore* store) {
  if (WantsPublicListener(config)) {
    Status s = impl_->StartPublic(config.daemon.listen);
    if (!s.ok()) return s;
  }
  const OperatorConfig& oc = config.daemon.operator_api;
  if (!oc.tcp && oc.socket.empty()) {
    spdlog::info("operator.listen is off: the status page, /metrics and /api/v1 are not served");
    return Status::Ok();
  }
  std::string token;
  if (config.daemon.operator_api.admin_token.present()) {
    auto resolved = ResolveSecret(config.daemon.operator_api.admin_token, store, config.dir);
    if (!resolved.ok()) return resolved.status().WithContext("operator.admin_token");
    token = *resolved;
  }
  return impl_->StartOperator(config.daemon.operator_api, std::move(token));
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
      shared, webhook_policies, std::move(tokens), &impl_->log,
      [weak, trigger = impl_->trigger](const std::string& binding, const std::string& reason,
                                       const std::string& commit) {
        if (trigger) return trigger(binding, reason, commit);
        auto e = weak.lock();
        return e && e->TriggerRemote(binding, reason);
      });
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->service = std::move(service);
    impl_->config = std::move(shared);
    impl_->engine = std::move(engine);
  }
  impl_->FeedOperator();
}

void HttpFrontend::SetTrigger(Trigger trigger) { impl_->trigger = std::move(trigger); }

void HttpFrontend::SetFleetView(std::function<std::string()> fleet_json) { impl_->fleet_json = std::move(fleet_json); }

void HttpFrontend::SetReady(bool ready) { impl_->ready = ready; }

void HttpFrontend::Stop() {
  if (impl_->public_server) impl_->public_server->Stop();
  if (impl_->operator_server) impl_->operator_server->Stop();
  if (impl_->operator_socket_server) impl_->operator_socket_server->Stop();
  impl_->log.Flush();
}

}  // namespace gitsyncd
