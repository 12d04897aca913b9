// `gitsyncd status [--json]`: each binding's state, read from the state directory (the truth
// on disk), so it works whether or not the daemon runs.
#include <boost/json.hpp>

#include <cstdio>

#include "daemon/cli.h"
#include "daemon/status_json.h"
#include "webhooks/delivery_log.h"
#include "sync/binding_state.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

void PrintText(const json::object& o) {
  auto str = [&](const char* k) { return o.contains(k) && o.at(k).is_string() ? std::string(o.at(k).as_string()) : ""; };
  std::printf("%s  (%s -> %s, %s)\n", str("name").c_str(), str("local").c_str(), str("remote").c_str(),
              str("direction").c_str());
  if (o.contains("state_error")) {
    std::printf("  state:          %s\n", str("state_error").c_str());
    return;
  }
  if (o.at("paused").as_bool()) {
    std::printf("  PAUSED:         since %s; `gitsyncd resume %s` syncs it again\n", str("paused_since").c_str(),
                str("name").c_str());
  }
  std::string commit = str("last_synced_commit");
  std::printf("  last synced:    %s%s\n", commit.empty() ? "never" : commit.substr(0, 12).c_str(),
              str("last_success_time").empty() ? "" : (" at " + str("last_success_time")).c_str());
  std::printf("  pending local:  %llu change(s)\n",
              static_cast<unsigned long long>(o.at("pending_local_changes").to_number<uint64_t>()));
  std::string err = str("last_error");
  std::printf("  last error:     %s\n", err.empty() ? "none" : (err + " (" + str("last_error_time") + ")").c_str());
  for (const auto& w : o.at("warnings").as_array()) std::printf("  warning:        %s\n", std::string(w.as_string()).c_str());
  for (const auto& h : o.at("hooks").as_array()) {
    std::printf("  hook:           %s %s\n", std::string(h.at("time").as_string()).c_str(),
                std::string(h.at("result").as_string()).c_str());
  }
  for (const auto& c : o.at("conflicts").as_array()) {
    const auto& co = c.as_object();
    std::string files;
    for (const auto& f : co.at("files").as_array()) files += (files.empty() ? "" : ", ") + std::string(f.as_string());
    std::printf("  conflict:       %s %s [%s] %s: %s\n", std::string(co.at("time").as_string()).c_str(),
                std::string(co.at("branch").as_string()).c_str(), std::string(co.at("policy").as_string()).c_str(),
                co.at("resolved").as_bool() ? "resolved" : "OPEN", files.c_str());
  }
}

// The connector's newest deliveries as the daemon last wrote them (none when it never had any).
std::vector<DeliveryRecord> RecentDeliveries(const DaemonConfig& daemon, const ConnectorConfig& c) {
  auto records = DeliveryLog::ReadFile(DeliveryLog::Dir(daemon.state_dir) + "/" + ConnectorId(c.name) + ".json");
  std::vector<DeliveryRecord> out;
  if (!records.ok()) return out;
  for (auto r = records->rbegin(); r != records->rend() && out.size() < kStatusDeliveries; ++r) out.push_back(*r);
  return out;
}

// A binding needs a person when its state is unreadable, its last pass failed, or a conflict is
// still open. A pause alone does not: it is an operator's decision, made on purpose (the
// gitsyncd_paused metric is there to alert on pauses left too long).
bool Unhealthy(const json::object& o) {
  if (o.contains("state_error")) return true;
  if (o.contains("last_error") && !o.at("last_error").as_string().empty()) return true;
  for (const auto& c : o.at("conflicts").as_array()) {
    if (!c.as_object().at("resolved").as_bool()) return true;
  }
  return false;
}

}  // namespace

void RegisterStatusCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("status", "Show each sync binding: last synced commit, pending changes, errors, conflicts");
  cmd->footer("Exit status: 0 when every binding is healthy; 3 when any binding's last pass failed, its state\n"
              "cannot be read, or it has an open conflict; 1 on a configuration error. A paused binding\n"
              "alone exits 0 (pausing is an operator's decision).");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([&ctx, as_json] {
    ctx.action = [&ctx, as_json] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      json::array all;
      for (const auto& c : config->connectors) {
        std::vector<DeliveryRecord> deliveries = RecentDeliveries(config->daemon, c);
        for (const auto& s : c.syncs) {
          json::object o = BindingStatusJson(c, s, LoadBindingState(BindingStateDir(config->daemon, s.name)));
          AddDeliveriesJson(o, deliveries);
          all.push_back(std::move(o));
        }
      }
      if (*as_json) {
        std::printf("%s\n", json::serialize(json::object{{"bindings", all}}).c_str());
      } else {
        if (all.empty()) std::printf("no sync bindings configured\n");
        for (const auto& o : all) PrintText(o.as_object());
      }
      for (const auto& o : all) {
        if (Unhealthy(o.as_object())) return kExitUnhealthy;
      }
      return kExitOk;
    };
  });
}

}  // namespace gitsyncd
