#include "webhooks/webhook_service.h"

#include <spdlog/spdlog.h>

#include "webhooks/json_text.h"
#include "webhooks/webhook_router.h"

namespace gitsyncd {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.body += "}\n";
  return r;
}

// A delivery from another provider than the connector's, or in a content type it does not
// send: the status and reason to refuse it with.
std::optional<std::pair<int, std::string>> SenderMismatch(const ConnectorConfig& connector, WebhookFormat format,
                                                          const std::string& format_name, BodyEncoding encoding,
                                                          const std::string& content_type) {
  Provider sender = WebhookFormatProvider(format);
  if (connector.provider != Provider::kGit && sender != connector.provider) {
    return std::pair(400, "delivery looks like " + format_name + " but connector '" + connector.name + "' is " +
                              std::string(ProviderName(connector.provider)));
  }
  if (encoding == BodyEncoding::kOther || (encoding == BodyEncoding::kForm && format != WebhookFormat::kGitHub)) {
    return std::pair(415, "content type '" + (content_type.empty() ? std::string("(none)") : content_type) +
                              "' is not accepted; use application/json" +
                              (format == WebhookFormat::kGitHub ? " or application/x-www-form-urlencoded" : ""));
  }
  return std::nullopt;
}

}  // namespace

WebhookService::WebhookService(std::shared_ptr<const Config> config, std::map<std::string, VerifyPolicy> policies,
                               WebhookTokens tokens, DeliveryLog* log, Trigger trigger, ParseLimits limits)
    : config_(std::move(config)),
      tokens_(std::move(tokens)),
      log_(log),
      trigger_(std::move(trigger)),
      limits_(limits) {
  for (const auto& c : config_->connectors) {
    if (!c.webhook.enabled) continue;
    auto policy = policies.find(c.name);
    by_id_.emplace(ConnectorId(c.name), Hook{&c, WebhookVerifier(policy == policies.end() ? VerifyPolicy{} : policy->second)});
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
  } else {
    // Accepted deliveries are not logged at info: at thousands a second the journal would
    // cost more than the delivery. `gitsyncd events` shows each one.
    spdlog::debug("webhook {} {} {} {}: {}", record.connector, record.provider, record.event, record.delivery_id,
                 record.detail);
  }
  if (log_) log_->Add(connector_id, std::move(record));
  return response;
}

WebhookService::Admission WebhookService::Admit(const HttpRequest& req) {
  std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  std::string_view rest = path.substr(std::min(path.size(), kPathPrefix.size()));
  auto slash = rest.find('/');
  std::string_view id_view = rest.substr(0, slash);
  std::string_view token = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  auto it = by_id_.find(id_view);
  Admission a;
  if (path.substr(0, kPathPrefix.size()) != kPathPrefix || it == by_id_.end()) {
    a.refusal = JsonErrorResponse(404, "no webhook-enabled connector has the id '" + std::string(id_view) + "'");
  } else if (req.method != "POST") {
    a.refusal = JsonErrorResponse(405, "webhooks are delivered with POST");
    a.refusal->headers.emplace_back("Allow", "POST");
  } else if (token.empty() || token.find('/') != std::string_view::npos || !tokens_.Matches(it->first, token)) {
    a.refusal = RefuseToken(it->first, *it->second.connector, req);
  } else {
    a.id = &it->first;
    a.hook = &it->second;
  }
  return a;
}

// Counted and logged at most once a minute per connector (with how many since); not recorded.
HttpResponse WebhookService::RefuseToken(const std::string& id, const ConnectorConfig& connector,
                                         const HttpRequest& req) {
  std::string why = tokens_.Has(id) ? "the token in the webhook URL is not this connector's current one (rotated?)"
                                    : "connector has no webhook token yet; run `gitsyncd webhook-url " +
                                          connector.name + "`";
  constexpr auto kLogEvery = std::chrono::minutes(1);
  uint64_t unlogged = 0;
  bool log = false;
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    ++counters_.token_refusals[connector.name];
    RefusalLog& r = refusal_log_[id];
    auto now = std::chrono::steady_clock::now();
    if (r.last == std::chrono::steady_clock::time_point{} || now - r.last >= kLogEvery) {
      log = true;
      unlogged = r.unlogged;
      r.unlogged = 0;
      r.last = now;
    } else {
      ++r.unlogged;
    }
  }
  if (log) {
    spdlog::warn("webhook {} from {}: 401 refused: {}{}", connector.name, req.remote_address, why,
                 unlogged ? " (" + std::to_string(unlogged) + " more refused for their URL token since the last such line)"
                          : std::string());
  }
  return JsonErrorResponse(401, why);
}

HeaderVerdict WebhookService::CheckHeaders(const HttpRequest& req) {
  Admission a = Admit(req);
  HeaderVerdict v;
  v.answer = std::move(a.refusal);
  v.trusted = !v.answer;
  return v;
}

void WebhookService::QueueRoutes(const ConnectorConfig& connector, const PushEvent& event, DeliveryRecord* rec,
                                 std::string* body) {
  std::string ignored;
  for (RouteDecision& d : RoutePush(connector, event)) {
    if (d.queue && !trigger_(d.binding, "webhook " + rec->provider + " " + rec->delivery_id, d.commit)) {
      d.queue = false;
      d.reason = "binding is not running (starting, stopping or failed to start)";
    }
    if (d.queue) {
      rec->queued.push_back(d.binding);
    } else {
      ignored += ignored.empty() ? "{" : ",{";
      AppendJsonMember(ignored, "binding", d.binding);
      AppendJsonMember(ignored, "reason", d.reason);
      ignored += '}';
    }
    rec->detail += (rec->detail.empty() ? "" : "; ") + d.binding + ": " + d.reason;
  }
  if (connector.syncs.empty()) rec->detail = "connector has no sync bindings";
  rec->verdict = rec->queued.empty() ? "ignored" : "queued";
  *body += ",\"queued\":[";
  for (size_t i = 0; i < rec->queued.size(); ++i) {
    if (i) *body += ',';
    AppendJsonString(*body, rec->queued[i]);
  }
  *body += "],\"ignored\":[";
  *body += ignored;
  *body += ']';
}

HttpResponse WebhookService::Handle(const HttpRequest& req) {
  Admission admitted = Admit(req);
  if (admitted.refusal) return std::move(*admitted.refusal);
  const std::string& id = *admitted.id;
  const Hook& hook = *admitted.hook;
  const ConnectorConfig& connector = *hook.connector;
  DeliveryRecord rec;
  rec.time = DeliveryLog::NowRfc3339();
  rec.connector = connector.name;
  rec.remote = req.remote_address;
  auto refuse = [&](int status, std::string verdict, std::string detail) {
    rec.verdict = std::move(verdict);
    rec.detail = detail;
    return Finish(id, std::move(rec), JsonErrorResponse(status, detail));
  };

  WebhookFormat format = DetectFormat(req.headers);
  rec.provider = std::string(WebhookFormatName(format));
  rec.event = EventName(format, req.headers);
  rec.delivery_id = DeliveryId(format, req.headers);
  BodyEncoding encoding = ClassifyContentType(req.Header("content-type"));
  if (auto why = SenderMismatch(connector, format, rec.provider, encoding, req.Header("content-type"))) {
    return refuse(why->first, "invalid", why->second);
  }
  Verification v = hook.verifier.Verify(format, rec.event, req.headers, req.body);
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

  std::string body = "{";
  body.reserve(256);
  AppendJsonMember(body, "connector", connector.name);
  AppendJsonMember(body, "provider", rec.provider);
  AppendJsonMember(body, "event", rec.event);
  AppendJsonMember(body, "delivery", rec.delivery_id);
  AppendJsonMember(body, "verified", v.how);
  if (event.ping) {
    rec.verdict = "ping";
    rec.detail = "ping answered (" + v.how + ")";
    AppendJsonMember(body, "ping", "ok");
    return Finish(id, std::move(rec), Json(200, std::move(body)));
  }
  if (!event.push) {
    rec.verdict = "ignored";
    rec.detail = "event '" + rec.event + "' is not a push; nothing to sync";
    AppendJsonMember(body, "ignored", rec.detail);
    return Finish(id, std::move(rec), Json(202, std::move(body)));
  }
  if (log_ && !log_->Claim(id, rec.delivery_id)) {
    rec.verdict = "duplicate";
    rec.detail = "delivery " + rec.delivery_id + " was already processed; not processed again";
    body += ",\"duplicate\":true";
    return Finish(id, std::move(rec), Json(200, std::move(body)));
  }

  QueueRoutes(connector, event, &rec, &body);
  return Finish(id, std::move(rec), Json(202, std::move(body)));
}

}  // namespace gitsyncd
