// `gitsyncd secret init|set|list|rm`: the encrypted secret store.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include <sodium.h>

#include "daemon/cli.h"

namespace gitsyncd {
namespace {

constexpr size_t kMaxSecretInput = 64 * 1024 + 1;

// Reads the value from stdin; on a terminal without echo. One trailing newline is dropped.
Result<std::string> ReadValue(const std::string& name) {
  bool tty = ::isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "value for secret '%s' (not echoed): ", name.c_str());
    std::fflush(stderr);
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string value;
  if (tty) {
    std::getline(std::cin, value);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  } else {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      value.append(buf, n);
      if (value.size() > kMaxSecretInput) {
        sodium_memzero(value.data(), value.size());
        return Status::InvalidArgument("secret value on stdin is larger than 64 KiB");
      }
    }
  }
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  if (value.empty()) return Status::InvalidArgument("no value on stdin; secret '" + name + "' not changed");
  return value;
}

int WithStore(CliContext& ctx, const std::function<int(SecretStore&)>& fn) {
  auto daemon = ctx.LoadDaemonConfig();
  if (!daemon.ok()) return UserError(daemon.status().message());
  auto store = SecretStore::OpenForDaemon(*daemon);
  if (!store.ok()) return UserError(store.status().message());
  return fn(*store);
}

}  // namespace

void RegisterSecretCommand(CLI::App& app, CliContext& ctx) {
  auto* secret = app.add_subcommand("secret", "Manage the encrypted secret store");
  secret->require_subcommand(1);

  auto* init = secret->add_subcommand("init", "Create the master key (mode 0600; never overwrites)");
  init->callback([&ctx] {
    ctx.action = [&ctx] {
      auto daemon = ctx.LoadDaemonConfig();
      if (!daemon.ok()) return UserError(daemon.status().message());
      auto key = MasterKeyPath(*daemon);
      if (!key.ok()) return UserError(key.status().message());
      Status s = SecretStore::InitKey(*key);
      if (!s.ok()) return UserError(s.message());
      std::printf("created master key %s\n", key->c_str());
      return kExitOk;
    };
  });

  auto name = std::make_shared<std::string>();
  auto* set = secret->add_subcommand("set", "Store a secret; the value is read from stdin");
  set->add_option("NAME", *name, "Secret name (letters, digits, '_', '-', '.')")->required();
  set->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      Status valid = SecretStore::ValidateName(*name);
      if (!valid.ok()) return UserError(valid.message());
      return WithStore(ctx, [&](SecretStore& store) {
        auto value = ReadValue(*name);
        if (!value.ok()) return UserError(value.status().message());
        Status s = store.Set(*name, *value);
        sodium_memzero(value->data(), value->size());
        if (!s.ok()) return UserError(s.message());
        std::printf("stored secret '%s'\n", name->c_str());
        return kExitOk;
      });
    };
  });

  auto* list = secret->add_subcommand("list", "List the names of stored secrets (never their values)");
  list->callback([&ctx] {
    ctx.action = [&ctx] {
      return WithStore(ctx, [](SecretStore& store) {
        auto names = store.List();
        if (!names.ok()) return UserError(names.status().message());
        for (const auto& n : *names) std::printf("%s\n", n.c_str());
        return kExitOk;
      });
    };
  });

  auto rm_name = std::make_shared<std::string>();
  auto* rm = secret->add_subcommand("rm", "Remove a stored secret");
  rm->add_option("NAME", *rm_name, "Secret name")->required();
  rm->callback([&ctx, rm_name] {
    ctx.action = [&ctx, rm_name] {
      return WithStore(ctx, [&](SecretStore& store) {
        Status s = store.Remove(*rm_name);
        if (!s.ok()) return UserError(s.message());
        std::printf("removed secret '%s'\n", rm_name->c_str());
        return kExitOk;
      });
    };
  });
}

}  // namespace gitsyncd
