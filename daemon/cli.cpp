#include "daemon/cli.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "config/yaml_reader.h"
#include "daemon/logging.h"

#ifndef GITSYNCD_VERSION
#define GITSYNCD_VERSION "unknown"
#endif

namespace gitsyncd {

int UserError(const std::string& message) {
  std::fprintf(stderr, "gitsyncd: error: %s\n", message.c_str());
  return kExitUserError;
}

std::optional<Config> CliContext::LoadConfigOrReport() const {
  ConfigLoadResult r = LoadConfig(config_dir);
  if (!r.ok()) {
    for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    std::fprintf(stderr, "gitsyncd: error: %zu problem%s in config %s\n", r.errors.size(),
                 r.errors.size() == 1 ? "" : "s", config_dir.c_str());
    return std::nullopt;
  }
  return std::move(r.config);
}

Result<DaemonConfig> CliContext::LoadDaemonConfig() const {
  // Loading the whole directory reuses the one parser; connector errors do not matter here,
  // only gitsyncd.yaml's.
  ConfigLoadResult r = LoadConfig(config_dir);
  for (const auto& e : r.errors) {
    if (e.where.file == r.config.daemon.file || e.where.file == config_dir) {
      return Status::InvalidArgument(e.ToString());
    }
  }
  return r.config.daemon;
}


int RunCli(int argc, char** argv) {
  CliContext ctx;
  CLI::App app{"gitsyncd: keeps folders of configuration files in sync with Git branches", "gitsyncd"};
  app.set_version_flag("--version", std::string("gitsyncd ") + GITSYNCD_VERSION);
  app.option_defaults()->always_capture_default();
  app.add_option("--config", ctx.config_dir, "Config directory (default: $GITSYNCD_CONFIG or /etc/gitsyncd)");
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error, critical or off");
  app.require_subcommand(1);
  app.fallthrough();

  RegisterCheckConfigCommand(app, ctx);
  RegisterSecretCommand(app, ctx);
  RegisterRunCommand(app, ctx);
  RegisterStatusCommand(app, ctx);
  RegisterSyncNowCommand(app, ctx);
  RegisterTestConnectionCommand(app, ctx);
  RegisterWebhookUrlCommand(app, ctx);
  RegisterWebhookCommand(app, ctx);
  RegisterEventsCommand(app, ctx);
  RegisterSystemdDropInCommand(app, ctx);
  RegisterImportCommand(app, ctx);
  RegisterPauseCommands(app, ctx);
  RegisterConflictsCommand(app, ctx);
  RegisterClusterCommand(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (ctx.config_dir.empty()) {
    const char* env = std::getenv("GITSYNCD_CONFIG");
    ctx.config_dir = env != nullptr && *env != '\0' ? env : kDefaultConfigDir;
  }
  std::string level = ctx.log_level.empty() ? "info" : ctx.log_level;
  Status s = SetupLogging(level);
  if (!s.ok()) {
    std::fprintf(stderr, "gitsyncd: %s\n", s.message().c_str());
    return kExitUsage;
  }
  if (!ctx.action) return kExitUsage;
  try {
    return ctx.action();
  } catch (const std::exception& e) {
    return UserError(std::string("unexpected failure: ") + e.what());
  }
}

}  // namespace gitsyncd
