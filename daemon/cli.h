// The `gitsyncd` command line: global options, and one Register*Command per subcommand
// group (each in its own cmd_*.cpp). A subcommand exists only when it works.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "config/config_loader.h"
#include "config/secret_store.h"
#include "base/status.h"

namespace gitsyncd {

// Exit codes: 0 ok, 1 user error (a one-line reason on stderr), 2 usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUserError = 1;
inline constexpr int kExitUsage = 2;
// `status`: some binding has an error (or unreadable state) or an open conflict.
inline constexpr int kExitUnhealthy = 3;
// How long the daemon waits for the pass `sync-now` asked for before answering that it goes
// on in the background (a silent remote fails its pass sooner, after io_timeout).
inline constexpr std::chrono::seconds kSyncNowWait{120};

// Shared by every subcommand: the global options and helpers to load what they need.
struct CliContext {
  std::string config_dir;  // --config, else $GITSYNCD_CONFIG, else /etc/gitsyncd
  std::string log_level;   // --log-level; empty = from gitsyncd.yaml
  // The selected subcommand's action; returns the exit code.
  std::function<int()> action;

  // Loads and validates the config; on failure prints every error and returns nullopt.
  std::optional<Config> LoadConfigOrReport() const;
  // Loads only gitsyncd.yaml settings (for `secret`, which must work with broken connectors).
  Result<DaemonConfig> LoadDaemonConfig() const;
};

// Prints "gitsyncd: error: <message>" (one line) and returns kExitUserError.
int UserError(const std::string& message);

void RegisterCheckConfigCommand(CLI::App& app, CliContext& ctx);
void RegisterSecretCommand(CLI::App& app, CliContext& ctx);
void RegisterRunCommand(CLI::App& app, CliContext& ctx);
void RegisterStatusCommand(CLI::App& app, CliContext& ctx);
void RegisterSyncNowCommand(CLI::App& app, CliContext& ctx);
void RegisterTestConnectionCommand(CLI::App& app, CliContext& ctx);
void RegisterWebhookUrlCommand(CLI::App& app, CliContext& ctx);
void RegisterWebhookCommand(CLI::App& app, CliContext& ctx);
void RegisterEventsCommand(CLI::App& app, CliContext& ctx);
void RegisterSystemdDropInCommand(CLI::App& app, CliContext& ctx);
void RegisterImportCommand(CLI::App& app, CliContext& ctx);
void RegisterPauseCommands(CLI::App& app, CliContext& ctx);
void RegisterConflictsCommand(CLI::App& app, CliContext& ctx);
void RegisterClusterCommand(CLI::App& app, CliContext& ctx);

// Parses argv and runs the chosen subcommand; returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace gitsyncd
