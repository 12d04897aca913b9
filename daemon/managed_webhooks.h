// The connector's generated webhook URL and the hooks registered with it through the provider
// APIs (`gitsyncd webhook register/unregister`, `webhook.manage`, `webhook-url --rotate`,
// `test-connection`): one hook per repository the connector syncs.
#pragma once

#include <string>
#include <vector>

#include "api/webhook_registry.h"
#include "config/config.h"
#include "config/secret_store.h"

namespace gitsyncd {

// The base of generated URLs: listen.public_url, else the listener's own address.
std::string WebhookPublicBase(const ListenConfig& listen);
// <base>/webhooks/<connector-id>/: every hook under it is the connector's.
std::string WebhookUrlPrefix(const DaemonConfig& daemon, const std::string& connector_id);
// Where the clear token of a connector's URL is kept in the secret store.
std::string WebhookTokenStoreName(const std::string& connector_id);

// The clear token of the connector's URL, from the secret store; with `create`, a first one is
// made (and stored) when the connector has none yet. Errors say how to get one.
Result<std::string> WebhookUrlToken(const DaemonConfig& daemon, SecretStore* store, const std::string& connector_id,
                                    const std::string& connector_name, bool create);

// The distinct clone URLs of the connector's syncs.
std::vector<std::string> ConnectorRepos(const ConnectorConfig& connector);

struct RepoHookOutcome {
  std::string repo;  // clone URL
  Status status;
  HookChanges changes;
};

enum class HookAction { kRegister, kUpdateExisting /* after a rotation */, kUnregister };

// Registers (or corrects, or unregisters) the connector's hook in each of its repositories.
// A repository that fails does not stop the others. Needs the store (the token and API token).
std::vector<RepoHookOutcome> SyncConnectorHooks(const Config& config, const ConnectorConfig& connector,
                                                SecretStore* store, HookAction action, bool dry_run);

// The connector's hook in `remote_url`, for test-connection: "webhook registered (id 12); last
// delivery ...", or what is wrong. Never fails the test itself.
std::string DescribeConnectorHook(const Config& config, const ConnectorConfig& connector, SecretStore* store,
                                  const std::string& remote_url, const std::string& api_token);

}  // namespace gitsyncd
