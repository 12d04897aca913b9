// `gitsyncd check-config`: validate the config directory and print what it means.
#include <cstdio>

#include "cluster/selectors.h"
#include "config/ignore_rules.h"
#include "daemon/cli.h"
#include "sync/relay_pack.h"

namespace gitsyncd {
namespace {

std::string AuthKind(const ConnectorConfig& c) {
  if (c.auth.ssh_key.present()) return "ssh key (user " + c.auth.username + ")";
  if (c.auth.password.present()) {
    return "password/token" + (c.auth.username.empty() ? std::string() : " (user " + c.auth.username + ")");
  }
  return "none";
}

std::string Seconds(std::chrono::seconds s) { return s.count() == 0 ? "off" : std::to_string(s.count()) + "s"; }

// The binding's effective ignore rules, each with where it comes from, in the order they apply.
void PrintIgnoreRules(const ConnectorConfig& c, const SyncBinding& s) {
  size_t defaults = s.ignore_defaults ? DefaultIgnoreRules().size() : 0;
  std::printf("    ignore:      %zu rule%s, a later one winning; then the folder's .gitignore files%s\n",
              s.ignore_rules.size(), s.ignore_rules.size() == 1 ? "" : "s",
              s.ignore_defaults ? "" : " (ignore_defaults: false)");
  for (size_t i = 0; i < s.ignore_rules.size(); ++i) {
    const char* from = i < defaults ? "default" : i < defaults + c.ignore.size() ? "connector" : "sync";
    std::printf("      %-24s (%s)\n", s.ignore_rules[i].c_str(), from);
  }
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The fleet part: this instance, and which connectors it runs (docs/fleet.md).
void PrintCluster(const ClusterConfig& k, const std::string& instance) {
  if (!k.configured) return;
  std::printf("cluster: instance %s, selectors [%s], etcd %s, lease %llds\n", instance.c_str(), Joined(k.selectors).c_str(),
              Joined(k.endpoints).c_str(), static_cast<long long>(k.lease_ttl.count()));
}

void PrintConfig(const Config& config) {
  std::printf("config %s: %zu connector%s\n", config.dir.c_str(), config.connectors.size(),
              config.connectors.size() == 1 ? "" : "s");
  std::printf("state_dir: %s\n", config.daemon.state_dir.c_str());
  PrintCluster(config.daemon.cluster, config.daemon.instance);
  for (const auto& c : config.connectors) {
    std::printf("\nconnector \"%s\" (%s)\n", c.name.c_str(), c.file.c_str());
    std::printf("  provider:      %s\n", std::string(ProviderName(c.provider)).c_str());
    std::printf("  url:           %s (%s url)\n", c.url.c_str(), std::string(UrlTypeName(c.url_type)).c_str());
    std::printf("  branch:        %s\n", c.branch.c_str());
    std::printf("  auth:          %s\n", AuthKind(c).c_str());
    std::printf("  fetch:         %s\n", std::string(FetchModeName(c.fetch)).c_str());
    std::printf("  webhook:       %s\n", c.webhook.enabled ? (c.webhook.secret.present() ? "on (secret set)" : "on") : "off");
    std::printf("  commit author: %s <%s>\n", c.commit_author.name.c_str(), c.commit_author.email.c_str());
    if (config.daemon.cluster.configured && !c.delegate_selectors.empty()) {
      std::printf("  delegates:     instances with [%s]%s\n", Joined(c.delegate_selectors).c_str(),
                  ServesConnector(config.daemon.cluster, c) ? "" : "; not run by this instance");
    }
    for (const auto& s : c.syncs) {
      std::printf("  sync \"%s\"\n", s.name.c_str());
      if (!s.repo.empty()) std::printf("    repo:        %s\n", s.repo.c_str());
      std::printf("    remote:      %s\n", s.remote_url.c_str());
      std::printf("    branch:      %s\n", s.branch.c_str());
      std::printf("    path:        %s\n", s.path.empty() ? "(repository root)" : s.path.c_str());
      std::printf("    local:       %s\n", s.local.c_str());
      std::printf("    direction:   %s\n", std::string(SyncDirectionName(s.direction)).c_str());
      std::printf("    on_conflict: %s\n", std::string(ConflictPolicyName(s.on_conflict)).c_str());
      std::printf("    poll:        %s\n", Seconds(s.poll_interval).c_str());
      if (s.exclusive && config.daemon.cluster.configured) std::printf("    exclusive:   one live instance at a time\n");
      PrintIgnoreRules(c, s);
    }
  }
}

// Resolves every secret reference; prints one line per missing one. Never prints values.
int CheckSecrets(const Config& config) {
  auto store = SecretStore::OpenForDaemon(config.daemon);
  const SecretStore* s = store.ok() ? &*store : nullptr;
  int missing = 0;
  for (const auto& c : config.connectors) {
    const std::pair<const char*, const SecretRef*> refs[] = {{"auth.password", &c.auth.password},
                                                              {"auth.ssh_key", &c.auth.ssh_key},
                                                              {"api.token", &c.api.token},
                                                              {"webhook.secret", &c.webhook.secret}};
    for (const auto& [key, ref] : refs) {
      if (!ref->present()) continue;
      auto v = ResolveSecret(*ref, s, config.dir);
      if (!v.ok()) {
        ++missing;
        std::string why = v.status().message();
        if (s == nullptr && ref->kind == SecretRef::Kind::kStore) why += " (" + store.status().message() + ")";
        std::fprintf(stderr, "%s: connector '%s': %s\n", key, c.name.c_str(), why.c_str());
      }
    }
  }
  const ClusterConfig& k = config.daemon.cluster;
  for (const auto& [key, ref] : {std::pair{"cluster.tls.ca", &k.ca}, std::pair{"cluster.tls.cert", &k.client_cert},
                                 std::pair{"cluster.tls.key", &k.client_key},
                                 std::pair{"cluster.relay_key", &k.relay_key}}) {
    if (!ref->present()) continue;
    auto v = ResolveSecret(*ref, s, config.dir);
    if (!v.ok()) {
      ++missing;
      std::fprintf(stderr, "%s: %s\n", key, v.status().message().c_str());
    } else if (ref == &k.relay_key) {
      // What `run` would refuse: a key too short to make the relay's MAC with.
      if (auto usable = RelayKey::FromSecret(*v, ref->where.ToString() + ": cluster.relay_key"); !usable.ok()) {
        ++missing;
        std::fprintf(stderr, "%s\n", usable.status().message().c_str());
      }
    }
  }
  if (missing > 0) {
    std::fprintf(stderr, "gitsyncd: error: %d secret reference%s cannot be resolved or used\n", missing, missing == 1 ? "" : "s");
    return kExitUserError;
  }
  std::printf("all secret references resolve\n");
  return kExitOk;
}

}  // namespace

void RegisterCheckConfigCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("check-config", "Validate the config directory and print the connectors");
  auto secrets = std::make_shared<bool>(false);
  cmd->add_flag("--secrets", *secrets, "Also resolve every secret reference (values are never printed)");
  cmd->callback([&ctx, secrets] {
    ctx.action = [&ctx, secrets] {
      auto config = ctx.LoadConfigOrReport();
      if (!config) return kExitUserError;
      PrintConfig(*config);
      return *secrets ? CheckSecrets(*config) : kExitOk;
    };
  });
}

}  // namespace gitsyncd
