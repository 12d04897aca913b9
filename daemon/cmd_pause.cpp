// `gitsyncd pause NAME` / `gitsyncd resume NAME`: stop and restart a binding's syncing. The
// pause is kept in the binding's state.json, so it holds across restarts.
#include <cstdio>

#include "daemon/binding_control.h"
#include "daemon/cli.h"

namespace gitsyncd {
namespace {

int PauseOrResume(CliContext& ctx, const std::string& name, bool pause) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  if (!FindSync(*config, name)) return UserError("no sync binding named '" + name + "' in " + ctx.config_dir);
  bool offline = false;
  auto answer = AskDaemonOrOffline(config->daemon, (pause ? "pause " : "resume ") + name, [&] {
    offline = true;
    BindingSpec spec;
    spec.name = name;
    spec.binding_dir = BindingStateDir(config->daemon, name);
    Status s = EditStateOffline(config->daemon, spec, [pause](const BindingSpec&, BindingState& st) {
      if (st.paused != pause) st.paused_time = pause ? NowIso8601() : "";
      st.paused = pause;
      return Status::Ok();
    });
    return s.ok() ? Result<boost::json::object>(boost::json::object{}) : Result<boost::json::object>(s);
  });
  if (!answer.ok()) return UserError(answer.status().message());
  if (pause) {
    std::printf("%s: paused; no pass runs until `gitsyncd resume %s` (local edits wait in the folder)%s\n",
                name.c_str(), name.c_str(), offline ? " [daemon not running: saved for its next start]" : "");
  } else {
    std::printf("%s: resumed; %s\n", name.c_str(),
                offline ? "the daemon syncs it when it starts" : "a full pass is queued");
  }
  return kExitOk;
}

}  // namespace

void RegisterPauseCommands(CLI::App& app, CliContext& ctx) {
  auto* pause = app.add_subcommand("pause", "Pause a binding: no pass runs (nothing pulled or pushed) until resumed; "
                                            "kept across restarts");
  auto* resume = app.add_subcommand("resume", "Resume a paused binding: a full pass syncs what changed meanwhile");
  for (auto* cmd : {pause, resume}) {
    auto name = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "Sync binding name")->required();
    bool is_pause = cmd == pause;
    cmd->callback([&ctx, name, is_pause] { ctx.action = [&ctx, name, is_pause] { return PauseOrResume(ctx, *name, is_pause); }; });
  }
}

}  // namespace gitsyncd
