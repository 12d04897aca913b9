#include "sync/remote_credentials.h"

namespace gitsyncd {

Result<RemoteCredentials> ResolveRemoteCredentials(const Config& config, const ConnectorConfig& connector,
                                                   const std::string& url, const SecretStore* store) {
  RemoteCredentials creds;
  creds.url = url;
  creds.username = connector.auth.username;
  creds.known_hosts_file = connector.auth.known_hosts;
  if (connector.auth.password.present()) {
    auto v = ResolveSecret(connector.auth.password, store, config.dir);
    if (!v.ok()) return v.status().WithContext("connector '" + connector.name + "' auth.password");
    creds.password = *v;
  }
  if (connector.auth.ssh_key.present()) {
    auto v = ResolveSecret(connector.auth.ssh_key, store, config.dir);
    if (!v.ok()) return v.status().WithContext("connector '" + connector.name + "' auth.ssh_key");
    creds.ssh_private_key = *v;
    // A key file usually ends in a newline, which the secret reader strips; libssh2 wants it.
    if (!creds.ssh_private_key.empty() && creds.ssh_private_key.back() != '\n') creds.ssh_private_key += '\n';
  }
  if (connector.api.token.present()) {
    auto v = ResolveSecret(connector.api.token, store, config.dir);
    if (!v.ok()) return v.status().WithContext("connector '" + connector.name + "' api.token");
    creds.api_token = *v;
  }
  return creds;
}

}  // namespace gitsyncd
