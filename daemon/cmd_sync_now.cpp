// `gitsyncd sync-now NAME [--dry-run]`: ask the running daemon for a full pass of one binding
// now, and wait for its outcome; or for what such a pass would push and pull, changing nothing.
#include <boost/json.hpp>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "daemon/cli.h"
#include "daemon/control_socket.h"

namespace gitsyncd {
namespace {

// The daemon's answer to "sync-now-dry-run NAME" (daemon/cmd_run.cpp), for a person.
int PrintDryRun(const std::string& name, const boost::json::object& o) {
  auto lines = [&](const char* key) {
    std::vector<std::string> out;
    if (const auto* a = o.if_contains(key); a && a->is_array()) {
      for (const auto& v : a->as_array()) {
        if (v.is_string()) out.emplace_back(v.as_string());
      }
    }
    return out;
  };
  std::string head = o.if_contains("remote_head") && o.at("remote_head").is_string()
                         ? std::string(o.at("remote_head").as_string())
                         : "";
  std::printf("%s: dry run against %s (nothing was changed)\n", name.c_str(),
              head.empty() ? "no remote branch" : ("remote commit " + head.substr(0, 12)).c_str());
  for (const auto& [key, what] : {std::pair{"push", "push"}, std::pair{"pull", "pull"}}) {
    auto v = lines(key);
    std::printf("would %s %zu change%s%s\n", what, v.size(), v.size() == 1 ? "" : "s", v.empty() ? "" : ":");
    for (const auto& l : v) std::printf("  %s\n", l.c_str());
  }
  auto conflicts = lines("conflicts");
  if (!conflicts.empty()) std::printf("would conflict in %zu file%s:\n", conflicts.size(), conflicts.size() == 1 ? "" : "s");
  for (const auto& c : conflicts) std::printf("  %s\n", c.c_str());
  for (const auto& n : lines("notes")) std::printf("note: %s\n", n.c_str());
  return kExitOk;
}

}  // namespace

void RegisterSyncNowCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("sync-now", "Sync one binding now (fetch, merge, push) through the running daemon");
  auto name = std::make_shared<std::string>();
  cmd->add_option("NAME", *name, "Sync binding name")->required();
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run,
                "Print what a pass would push and pull (added/changed/deleted paths); change nothing");
  cmd->callback([&ctx, name, dry_run] {
    ctx.action = [&ctx, name, dry_run] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      bool known = false;
      for (const auto& c : config->connectors) {
        for (const auto& s : c.syncs) known = known || s.name == *name;
      }
      if (!known) return UserError("no sync binding named '" + *name + "' in " + ctx.config_dir);
      // The daemon answers within kSyncNowWait (sync-now's own limit) plus a margin.
      auto reply = ControlRequest(ControlSocketPath(config->daemon.state_dir),
                                  (*dry_run ? "sync-now-dry-run " : "sync-now ") + *name,
                                  kSyncNowWait + std::chrono::seconds(5));
      if (!reply.ok()) return UserError(reply.status().message());
      boost::system::error_code ec;
      auto v = boost::json::parse(*reply, ec);
      if (ec || !v.is_object()) return UserError("unexpected answer from the daemon: " + *reply);
      const auto& o = v.as_object();
      if (!o.at("ok").as_bool()) return UserError(std::string(o.at("error").as_string()));
      if (*dry_run) return PrintDryRun(*name, o);
      std::printf("%s: %s\n", name->c_str(), std::string(o.at("outcome").as_string()).c_str());
      return kExitOk;
    };
  });
}

}  // namespace gitsyncd
