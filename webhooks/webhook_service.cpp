#include "webhooks/webhook_service.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "webhooks/webhook_router.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

HttpResponse Json(int status, json::object body) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(body) + "\n";
  return r;
}

HttpResponse ErrorJson(int status, const std::string& message) { return Json(status, {{"error", message}}); }

}  // namespace

WebhookService::WebhookService(std::shared_ptr<const Config> config, std::map<std::string, VerifyPolicy> policies,
                               WebhookTokens tokens, DeliveryLog* log, Trigger trigger, ParseLimits limits)
    : config_(std::move(config)),
      policies_(std::move(policies)),
      tokens_(std::move(tokens)),
      log_(log),
      trigger_(std::move(trigger)),
      limits_(limits) {
  for (const auto& c : config_->connectors) {
    if (c.webhook.enabled) by_id_[ConnectorId(c.name)] = &c;
  }
}

WebhookCounters WebhookService::counters() const {
  std::lock_guard<std::mutex> lock(counters_mu_);
  return counters_;
}

HttpResponse WebhookService::Finish(const std::string& connector_id, DeliveryRecord record, HttpResponse response) {
  record.status = response.status;
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    ++counters_.by_format_and_verdict[(record.provider.empty() ? "unknown" : record.provider) + "/" + record.verdict];
  }
  if (response.status >= 400) {
    spdlog::warn("webhook {} from {}: {} {}: {}", record.connector, record.remote, response.status, record.verdict,
                 record.detail);
  } else if (record.verdict == "queued") {
    spdlog::info("webhook {} {} {} {}: {}", record.connector, record.provider, record.event, record.delivery_id,
                 record.detail);
  } else {
    spdlog::debug("webhook {} {} {} {}: {}", record.connector, record.provider, record.event, record.delivery_id,
                 record.detail);
  }
  if (log_) log_->Add(connector_id, std::move(record));
  return response;
}

HttpResponse WebhookService::Handle(const HttpRequest& req) {
  std::string path = req.target.substr(0, req.target.find('?'));
  std::string rest = path.substr(std::min(path.size(), kPathPrefix.size()));
  auto slash = rest.find('/');
  std::string id = rest.substr(0, slash);
  std::string token = slash == std::string::npos ? "" : rest.substr(slash + 1);
  auto it = by_id_.find(id);
  if (path.rfind(kPathPrefix, 0) != 0 || it == by_id_.end()) {
    return ErrorJson(404, "no webhook-enabled connector has the id '" + id + "'");
  }
  const ConnectorConfig& connector = *it->second;
  DeliveryRecord rec;
  rec.time = DeliveryLog::NowRfc3339();
  rec.connector = connector.name;
  rec.remote = req.remote_address;
  auto refuse = [&](int status, std::string verdict, std::string detail) {
    rec.verdict = std::move(verdict);
    rec.detail = detail;
    return Finish(id, std::move(rec), ErrorJson(status, detail));
  };
  if (req.method != "POST") {
    HttpResponse r = ErrorJson(405, "webhooks are delivered with POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (token.empty() || token.find('/') != std::string::npos || !tokens_.Matches(id, token)) {
    return refuse(401, "refused",
                  tokens_.Has(id) ? "the token in the webhook URL is not this connector's current one (rotated?)"
                                  : "connector has no webhook token yet; run `gitsyncd webhook-url " + connector.name + "`");
  }

  WebhookFormat format = DetectFormat(req.headers);
  rec.provider = std::string(WebhookFormatName(format));
  rec.event = EventName(format, req.headers);
  rec.delivery_id = DeliveryId(format, req.headers);
  Provider sender = WebhookFormatProvider(format);
  if (connector.provider != Provider::kGit && sender != connector.provider) {
    return refuse(400, "invalid",
                  "delivery looks like " + rec.provider + " but connector '" + connector.name + "' is " +
                      std::string(ProviderName(connector.provider)));
  }
  BodyEncoding encoding = ClassifyContentType(req.Header("content-type"));
  if (encoding == BodyEncoding::kOther || (encoding == BodyEncoding::kForm && format != WebhookFormat::kGitHub)) {
    std::string ct = req.Header("content-type");
    return refuse(415, "invalid",
                  "content type '" + (ct.empty() ? std::string("(none)") : ct) + "' is not accepted; use application/json" +
                      (format == WebhookFormat::kGitHub ? " or application/x-www-form-urlencoded" : ""));
  }
  auto policy = policies_.find(connector.name);
  WebhookVerifier verifier(policy == policies_.end() ? VerifyPolicy{} : policy->second);
  Verification v = verifier.Verify(format, rec.event, req.headers, req.body);
  if (!v.accepted) return refuse(401, "refused", v.why);

  std::string text;
  if (encoding == BodyEncoding::kForm) {
    auto form = FormPayload(req.body);
    if (!form.ok()) return refuse(400, "invalid", form.status().message());
    text = std::move(form).value();
  }
  auto parsed = ParsePushEvent(format, rec.event, encoding == BodyEncoding::kForm ? text : req.body, limits_);
  if (!parsed.ok()) return refuse(400, "invalid", parsed.status().message());
  PushEvent& event = *parsed;
  rec.event = event.event;
  if (rec.delivery_id.empty()) rec.delivery_id = event.delivery_id;

  json::object body{{"connector", connector.name}, {"provider", rec.provider}, {"event", rec.event},
                    {"delivery", rec.delivery_id}, {"verified", v.how}};
  if (event.ping) {
    rec.verdict = "ping";
    rec.detail = "ping answered (" + v.how + ")";
    body["ping"] = "ok";
    return Finish(id, std::move(rec), Json(200, std::move(body)));
  }
  if (!event.push) {
    rec.verdict = "ignored";
    rec.detail = "event '" + rec.event + "' is not a push; nothing to sync";
    body["ignored"] = rec.detail;
    return Finish(id, std::move(rec), Json(202, std::move(body)));
  }
  if (log_ && !log_->Claim(id, rec.delivery_id)) {
    rec.verdict = "duplicate";
    rec.detail = "delivery " + rec.delivery_id + " was already processed; not processed again";
    body["duplicate"] = true;
    return Finish(id, std::move(rec), Json(200, std::move(body)));
  }

  json::array queued, ignored;
  for (RouteDecision& d : RoutePush(connector, event)) {
    if (d.queue && !trigger_(d.binding, "webhook " + rec.provider + " " + rec.delivery_id)) {
      d.queue = false;
      d.reason = "binding is not running (starting, stopping or failed to start)";
    }
    if (d.queue) {
      queued.emplace_back(d.binding);
      rec.queued.push_back(d.binding);
    } else {
      ignored.push_back(json::object{{"binding", d.binding}, {"reason", d.reason}});
    }
    rec.detail += (rec.detail.empty() ? "" : "; ") + d.binding + ": " + d.reason;
  }
  if (connector.syncs.empty()) rec.detail = "connector has no sync bindings";
  rec.verdict = rec.queued.empty() ? "ignored" : "queued";
  body["queued"] = std::move(queued);
  body["ignored"] = std::move(ignored);
  return Finish(id, std::move(rec), Json(202, std::move(body)));
}

}  // namespace gitsyncd
