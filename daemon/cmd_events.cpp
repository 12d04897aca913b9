// `gitsyncd events [NAME] [--json] [--limit N]`: the recent webhook deliveries per connector
// (kept across restarts), newest last, with what each one queued or why not.
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "daemon/cli.h"
#include "webhooks/delivery_log.h"

namespace gitsyncd {

void RegisterEventsCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("events", "Show recent webhook deliveries and what they queued (or why not)");
  auto name = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto limit = std::make_shared<size_t>(20);
  cmd->add_option("NAME", *name, "Connector name (default: all connectors)");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->add_option("--limit", *limit, "Deliveries per connector (default 20)")->check(CLI::Range(1, 1000));
  cmd->callback([&ctx, name, as_json, limit] {
    ctx.action = [&ctx, name, as_json, limit] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      std::vector<const ConnectorConfig*> chosen;
      for (const auto& c : config->connectors) {
        if (name->empty() || c.name == *name) chosen.push_back(&c);
      }
      if (!name->empty() && chosen.empty()) return UserError("no connector named '" + *name + "' in " + ctx.config_dir);
      std::string dir = DeliveryLog::Dir(config->daemon.state_dir) + "/";
      boost::json::array out;
      for (const ConnectorConfig* c : chosen) {
        auto records = DeliveryLog::ReadFile(dir + ConnectorId(c->name) + ".json");
        if (!records.ok()) {
          if (records.status().code() != Status::Code::kNotFound) return UserError(records.status().message());
          if (!*as_json && (!name->empty() || c->webhook.enabled)) std::printf("%s: no deliveries yet\n", c->name.c_str());
          continue;
        }
        size_t skip = records->size() > *limit ? records->size() - *limit : 0;
        for (size_t i = skip; i < records->size(); ++i) {
          const DeliveryRecord& r = (*records)[i];
          if (*as_json) {
            out.push_back(DeliveryRecordJson(r));
          } else {
            std::printf("%s  %s  %s %s %s  %d %s: %s\n", r.time.c_str(), r.connector.c_str(),
                        r.provider.empty() ? "-" : r.provider.c_str(), r.event.empty() ? "-" : r.event.c_str(),
                        r.delivery_id.empty() ? "-" : r.delivery_id.c_str(), r.status, r.verdict.c_str(),
                        r.detail.c_str());
          }
        }
      }
      if (*as_json) std::printf("%s\n", boost::json::serialize(out).c_str());
      return kExitOk;
    };
  });
}

}  // namespace gitsyncd
