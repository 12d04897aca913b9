// Answers POST /webhooks/<connector-id>/<token>: checks the URL token, that the sender
// matches the connector's provider, the content type, the signature (webhook.secret), parses
// the push, recognises redeliveries, queues a pull for each matching binding, records the
// delivery, and says what it did. Pure CPU work on the caller's thread: no disk, no Git.
//
// CheckHeaders makes the decisions that need no body (webhook id, method, URL token) for the
// listener, before it reads the body. A request with a wrong or missing URL token is
// answered 401 there, counted, and logged at most once a minute per connector; it is never
// recorded in the delivery log, so a flood of them cannot push real deliveries out of it.
//
// Status codes: 202 push handled (queued or ignored, with reasons) or event not handled;
// 200 ping or redelivery; 400 bad payload or provider mismatch; 401 bad URL token or
// signature; 404 no such webhook; 405 not POST; 415 unsupported content type.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "webhooks/delivery_log.h"
#include "webhooks/http_server.h"
#include "webhooks/http_types.h"
#include "webhooks/payload_parser.h"
#include "webhooks/webhook_tokens.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {

struct WebhookCounters {
  // verdict -> count, per sender format ("github/queued" ...), for metrics.
  std::map<std::string, uint64_t> by_format_and_verdict;
  // connector name -> requests refused for a wrong or missing URL token (not in the above).
  std::map<std::string, uint64_t> token_refusals;
};

class WebhookService {
 public:
  // Queues a pull of `binding`; false when the engine does not know it (or is stopping).
  // `commit`: the branch head the delivery names ("" when it names none).
  using Trigger = std::function<bool(const std::string& binding, const std::string& reason, const std::string& commit)>;

  // `policies` maps connector names to their resolved webhook.secret policy.
  WebhookService(std::shared_ptr<const Config> config, std::map<std::string, VerifyPolicy> policies,
                 WebhookTokens tokens, DeliveryLog* log, Trigger trigger, ParseLimits limits = {});

  static constexpr std::string_view kPathPrefix = "/webhooks/";
  // From the request line and headers alone: an answer (404, 405, 401 wrong token), or trusted.
  HeaderVerdict CheckHeaders(const HttpRequest& request);
  HttpResponse Handle(const HttpRequest& request);
  WebhookCounters counters() const;

 private:
  struct Hook {
    const ConnectorConfig* connector;
    WebhookVerifier verifier;  // its keys prepared once, not per delivery
  };
  struct Admission {
    const std::string* id = nullptr;  // set when admitted
    const Hook* hook = nullptr;
    std::optional<HttpResponse> refusal;
  };
  Admission Admit(const HttpRequest& request);
  HttpResponse RefuseToken(const std::string& id, const ConnectorConfig& connector, const HttpRequest& request);
  HttpResponse Finish(const std::string& connector_id, DeliveryRecord record, HttpResponse response);
  // Queues the bindings a push concerns; records and appends to the answer which were queued
  // and why the others were not.
  void QueueRoutes(const ConnectorConfig& connector, const PushEvent& event, DeliveryRecord* record, std::string* body);

  std::shared_ptr<const Config> config_;
  std::map<std::string, Hook, std::less<>> by_id_;  // webhook-enabled connectors
  WebhookTokens tokens_;
  DeliveryLog* log_;
  Trigger trigger_;
  ParseLimits limits_;
  mutable std::mutex counters_mu_;
  WebhookCounters counters_;
  struct RefusalLog {
    std::chrono::steady_clock::time_point last{};
    uint64_t unlogged = 0;
  };
  std::map<std::string, RefusalLog> refusal_log_;  // by connector id; under counters_mu_
};

}  // namespace gitsyncd
