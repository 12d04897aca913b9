#include "daemon/metrics.h"

#include "daemon/commit_status_reporter.h"

#include <fmt/format.h>

#include <algorithm>

#include "api/rate_limit.h"
#include "config/config_source.h"

namespace gitsyncd {
namespace {

// Label values escape backslash, double quote and newline.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// The per-binding families: passes, their durations, last success, pending changes,
// conflicts, pause and failures.
void RenderBindingMetrics(const std::vector<EngineBindingStatus>& bindings, std::string* out_ptr) {
  std::string& out = *out_ptr;
  Header(&out, "gitsyncd_sync_passes_total", "counter", "Sync passes finished, by binding and result.");
  for (const auto& b : bindings) {
    std::string l = Label(b.name);
    out += fmt::format("gitsyncd_sync_passes_total{{binding=\"{}\",result=\"ok\"}} {}\n", l, b.passes - b.errors_total);
    out += fmt::format("gitsyncd_sync_passes_total{{binding=\"{}\",result=\"error\"}} {}\n", l, b.errors_total);
  }
  Header(&out, "gitsyncd_sync_pass_duration_seconds", "histogram", "Duration of sync passes.");
  for (const auto& b : bindings) {
    std::string l = Label(b.name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < EngineBindingStatus::kDurationBounds.size(); ++i) {
      cumulative += b.duration_buckets[i];
      out += fmt::format("gitsyncd_sync_pass_duration_seconds_bucket{{binding=\"{}\",le=\"{}\"}} {}\n", l,
                         EngineBindingStatus::kDurationBounds[i], cumulative);
    }
    cumulative += b.duration_buckets.back();
    out += fmt::format("gitsyncd_sync_pass_duration_seconds_bucket{{binding=\"{}\",le=\"+Inf\"}} {}\n", l, cumulative);
    out += fmt::format("gitsyncd_sync_pass_duration_seconds_sum{{binding=\"{}\"}} {:.6f}\n", l, b.duration_sum_s);
    out += fmt::format("gitsyncd_sync_pass_duration_seconds_count{{binding=\"{}\"}} {}\n", l, cumulative);
  }
  Header(&out, "gitsyncd_last_success_timestamp_seconds", "gauge", "Unix time of the binding's last successful pass (0 = none).");
  for (const auto& b : bindings) {
    out += fmt::format("gitsyncd_last_success_timestamp_seconds{{binding=\"{}\"}} {:.3f}\n", Label(b.name),
                       b.last_success_unix);
  }
  Header(&out, "gitsyncd_pending_local_changes", "gauge", "Files changed locally and not yet pushed.");
  for (const auto& b : bindings) {
    out += fmt::format("gitsyncd_pending_local_changes{{binding=\"{}\"}} {}\n", Label(b.name),
                       b.state ? b.state->pending_local_changes : 0);
  }
  Header(&out, "gitsyncd_open_conflicts", "gauge", "Conflict branches not yet marked resolved.");
  for (const auto& b : bindings) {
    size_t open = 0;
    if (b.state) {
      for (const auto& c : b.state->conflicts) open += c.resolved ? 0 : 1;
    }
    out += fmt::format("gitsyncd_open_conflicts{{binding=\"{}\"}} {}\n", Label(b.name), open);
  }
  Header(&out, "gitsyncd_paused", "gauge", "1 while the binding is paused (gitsyncd pause), else 0.");
  for (const auto& b : bindings) {
    out += fmt::format("gitsyncd_paused{{binding=\"{}\"}} {}\n", Label(b.name), b.paused ? 1 : 0);
  }
  Header(&out, "gitsyncd_consecutive_failures", "gauge", "Failed passes in a row (retries back off).");
  for (const auto& b : bindings) {
    out += fmt::format("gitsyncd_consecutive_failures{{binding=\"{}\"}} {}\n", Label(b.name), b.failures);
  }
}

// What the daemon's surfaces did: webhook deliveries and refusals, provider API waits,
// commit statuses.
void RenderServiceMetrics(const WebhookCounters& webhooks, std::string* out_ptr) {
  std::string& out = *out_ptr;
  Header(&out, "gitsyncd_webhook_deliveries_total", "counter", "Webhook deliveries by sender format and verdict.");
  for (const auto& [key, n] : webhooks.by_format_and_verdict) {
    auto slash = key.find('/');
    out += fmt::format("gitsyncd_webhook_deliveries_total{{provider=\"{}\",verdict=\"{}\"}} {}\n",
                       Label(key.substr(0, slash)), Label(key.substr(slash + 1)), n);
  }
  Header(&out, "gitsyncd_webhook_token_refusals_total", "counter",
         "Webhook requests refused before their body was read: wrong or missing URL token.");
  for (const auto& [connector, n] : webhooks.token_refusals) {
    out += fmt::format("gitsyncd_webhook_token_refusals_total{{connector=\"{}\"}} {}\n", Label(connector), n);
  }
  auto limits = RateLimitTotalsByReason();
  Header(&out, "gitsyncd_api_rate_limit_waits_total", "counter",
         "Provider API waits (primary/secondary limits, throttling, write pacing); refused = longer than a pass may wait.");
  for (const auto& [reason, t] : limits) {
    out += fmt::format("gitsyncd_api_rate_limit_waits_total{{reason=\"{}\",result=\"waited\"}} {}\n", Label(reason), t.waits);
    out += fmt::format("gitsyncd_api_rate_limit_waits_total{{reason=\"{}\",result=\"refused\"}} {}\n", Label(reason), t.refused);
  }
  Header(&out, "gitsyncd_api_rate_limit_wait_seconds_total", "counter", "Seconds spent waiting for provider API limits.");
  for (const auto& [reason, t] : limits) {
    out += fmt::format("gitsyncd_api_rate_limit_wait_seconds_total{{reason=\"{}\"}} {:.3f}\n", Label(reason), t.waited_s);
  }
  CommitStatusTotals statuses = CommitStatusCounts();
  Header(&out, "gitsyncd_commit_statuses_total", "counter",
         "Commit statuses (report_status): posted, failed (the provider refused or could not be reached), dropped.");
  out += fmt::format("gitsyncd_commit_statuses_total{{result=\"posted\"}} {}\n", statuses.posted);
  out += fmt::format("gitsyncd_commit_statuses_total{{result=\"failed\"}} {}\n", statuses.failed);
  out += fmt::format("gitsyncd_commit_statuses_total{{result=\"dropped\"}} {}\n", statuses.dropped);
}

// gitsyncd.yaml `config_source:` (docs/fleet.md, "Config from Git"): whether its newest commit
// failed, the first problem's file and line as labels, and the commit connectors.d holds.
void RenderConfigSourceMetrics(const std::vector<EngineBindingStatus>& bindings, std::string* out) {
  auto b = std::find_if(bindings.begin(), bindings.end(), [](const auto& s) { return s.name == kConfigSourceName; });
  if (b == bindings.end()) return;
  Header(out, "gitsyncd_config_source_error", "gauge",
         "1 while the last pass of config_source failed (a commit check-config refused names its first problem), else 0.");
  const RefusalRecord* refused = b->state && !b->state->refused.commit.empty() ? &b->state->refused : nullptr;
  if (b->failures > 0 && refused != nullptr) {
    *out += fmt::format("gitsyncd_config_source_error{{commit=\"{}\",file=\"{}\",line=\"{}\"}} 1\n", Label(refused->commit),
                        Label(refused->file), refused->line);
  } else {
    *out += fmt::format("gitsyncd_config_source_error {}\n", b->failures > 0 ? 1 : 0);
  }
  Header(out, "gitsyncd_config_source_commit_info", "gauge", "Always 1; the commit connectors.d was last synced with.");
  *out += fmt::format("gitsyncd_config_source_commit_info{{commit=\"{}\"}} 1\n",
                      Label(b->state ? b->state->last_synced_commit : ""));
}

}  // namespace

std::string RenderMetrics(const std::vector<EngineBindingStatus>& bindings, size_t queue_depth,
                          const WebhookCounters& webhooks) {
  std::string out;
  Header(&out, "gitsyncd_build_info", "gauge", "Always 1; the version of the running gitsyncd as a label.");
  out += fmt::format("gitsyncd_build_info{{version=\"{}\"}} 1\n", Label(GITSYNCD_VERSION));
  RenderBindingMetrics(bindings, &out);
  Header(&out, "gitsyncd_queue_depth", "gauge", "Bindings waiting for a worker.");
  out += fmt::format("gitsyncd_queue_depth {}\n", queue_depth);
  RenderServiceMetrics(webhooks, &out);
  RenderConfigSourceMetrics(bindings, &out);
  return out;
}

}  // namespace gitsyncd
