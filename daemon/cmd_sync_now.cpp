// `gitsyncd sync-now NAME`: ask the running daemon for a full pass of one binding now, and
// wait for its outcome.
#include <boost/json.hpp>

#include <cstdio>

#include "daemon/cli.h"
#include "daemon/control_socket.h"

namespace gitsyncd {

void RegisterSyncNowCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("sync-now", "Sync one binding now (fetch, merge, push) through the running daemon");
  auto name = std::make_shared<std::string>();
  cmd->add_option("NAME", *name, "Sync binding name")->required();
  cmd->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      bool known = false;
      for (const auto& c : config->connectors) {
        for (const auto& s : c.syncs) known = known || s.name == *name;
      }
      if (!known) return UserError("no sync binding named '" + *name + "' in " + ctx.config_dir);
      // The daemon answers within kSyncNowWait (sync-now's own limit) plus a margin.
      auto reply = ControlRequest(ControlSocketPath(config->daemon.state_dir), "sync-now " + *name,
                                  kSyncNowWait + std::chrono::seconds(5));
      if (!reply.ok()) return UserError(reply.status().message());
      boost::system::error_code ec;
      auto v = boost::json::parse(*reply, ec);
      if (ec || !v.is_object()) return UserError("unexpected answer from the daemon: " + *reply);
      const auto& o = v.as_object();
      if (!o.at("ok").as_bool()) return UserError(std::string(o.at("error").as_string()));
      std::printf("%s: %s\n", name->c_str(), std::string(o.at("outcome").as_string()).c_str());
      return kExitOk;
    };
  });
}

}  // namespace gitsyncd
