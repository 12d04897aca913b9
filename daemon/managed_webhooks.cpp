#include "daemon/managed_webhooks.h"

#include "config/hex.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <set>

#include "sync/remote_credentials.h"
#include "webhooks/webhook_tokens.h"

namespace gitsyncd {
namespace {

// Providers never show a hook's secret back; the store keeps a digest of the one last
// registered so a changed webhook.secret is pushed to hooks that otherwise match.
std::string SecretDigestName(const std::string& id) { return "webhook-registered-secret." + id; }

std::string Digest(const std::string& secret) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  return HexEncode(std::string_view(reinterpret_cast<const char*>(d), sizeof d));
}

}  // namespace

std::string WebhookPublicBase(const ListenConfig& l) {
  if (!l.public_url.empty()) return l.public_url;
  std::string host = l.address == "0.0.0.0" || l.address == "::" ? "localhost" : l.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (l.tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(l.port);
}

std::string WebhookUrlPrefix(const DaemonConfig& daemon, const std::string& connector_id) {
  return WebhookPublicBase(daemon.listen) + "/webhooks/" + connector_id + "/";
}

std::string WebhookTokenStoreName(const std::string& id) { return "webhook-url-token." + id; }

Result<std::string> WebhookUrlToken(const DaemonConfig& daemon, SecretStore* store, const std::string& id,
                                    const std::string& name, bool create) {
  if (!store) {
    return Status::InvalidArgument("managed webhooks need the secret store (the master key) to keep the token of "
                                      "the webhook URL of '" + name + "'");
  }
  if (WebhookTokens::Exists(daemon, id)) {
    auto kept = store->Get(WebhookTokenStoreName(id));
    if (kept.ok()) return kept;
    return Status::InvalidArgument("the webhook token of '" + name + "' is stored hashed only; run `gitsyncd "
                                      "webhook-url " + name + " --rotate` once to make one the daemon can register");
  }
  if (!create) return Status::NotFound("connector '" + name + "' has no webhook URL yet");
  auto fresh = WebhookTokens::Rotate(daemon, id);
  if (!fresh.ok()) return fresh.status();
  if (Status s = store->Set(WebhookTokenStoreName(id), *fresh); !s.ok()) return s;
  return fresh;
}

std::vector<std::string> ConnectorRepos(const ConnectorConfig& connector) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& s : connector.syncs) {
    if (seen.insert(s.remote_url).second) out.push_back(s.remote_url);
  }
  return out;
}

std::vector<RepoHookOutcome> SyncConnectorHooks(const Config& config, const ConnectorConfig& c, SecretStore* store,
                                                HookAction action, bool dry_run) {
  bool remove = action == HookAction::kUnregister;
  std::vector<RepoHookOutcome> out;
  std::string id = ConnectorId(c.name);
  auto fail_all = [&](const Status& s) {
    for (const auto& url : ConnectorRepos(c)) out.push_back({url, s, {}});
    return out;
  };
  WantedHook wanted;
  bool secret_changed = false;
  if (!remove) {
    auto token = WebhookUrlToken(config.daemon, store, id, c.name, !dry_run);
    // A dry run makes no token; it plans with a stand-in.
    bool planned = dry_run && token.status().code() == Status::Code::kNotFound;
    if (!token.ok() && !planned) return fail_all(token.status());
    wanted.url = WebhookUrlPrefix(config.daemon, id) + (planned ? "<new token>" : *token);
    auto secret = ResolveSecret(c.webhook.secret, store, config.dir);
    if (!secret.ok()) return fail_all(Status(secret.status()).WithContext("webhook.secret of '" + c.name + "'"));
    wanted.secret = *secret;
    auto last = store->Get(SecretDigestName(id));
    secret_changed = !last.ok() || *last != Digest(wanted.secret);
  }
  bool all_ok = true;
  for (const auto& url : ConnectorRepos(c)) {
    RepoHookOutcome o{url, Status::Ok(), {}};
    auto creds = ResolveRemoteCredentials(config, c, url, store);
    auto hooks = creds.ok() ? MakeRepoHooks(ConnectorApiTarget(config.daemon, c, url, creds->api_token))
                            : Result<std::unique_ptr<RepoHooks>>(creds.status());
    auto changes = !hooks.ok() ? Result<HookChanges>(hooks.status())
                   : remove    ? RemoveHooks(**hooks, WebhookUrlPrefix(config.daemon, id), dry_run)
                               : EnsureHook(**hooks, wanted, WebhookUrlPrefix(config.daemon, id), secret_changed, dry_run,
                                            action == HookAction::kRegister);
    if (changes.ok()) o.changes = *changes;
    else o.status = changes.status();
    all_ok = all_ok && o.status.ok();
    out.push_back(std::move(o));
  }
  if (!remove && !dry_run && all_ok && store) {
    if (Status s = store->Set(SecretDigestName(id), Digest(wanted.secret)); !s.ok()) spdlog::warn("{}", s.message());
  }
  return out;
}

std::string DescribeConnectorHook(const Config& config, const ConnectorConfig& c, SecretStore* store,
                                  const std::string& remote_url, const std::string& api_token) {
  if (!c.webhook.enabled) return "webhook: off";
  if (api_token.empty()) return "webhook: not checked (no api.token)";
  auto hooks = MakeRepoHooks(ConnectorApiTarget(config.daemon, c, remote_url, api_token));
  if (!hooks.ok()) return "webhook: not checked (" + hooks.status().message() + ")";
  auto listed = (*hooks)->ListHooks();
  if (!listed.ok()) return "webhook: cannot be checked: " + listed.status().message();
  std::string id = ConnectorId(c.name);
  std::string prefix = WebhookUrlPrefix(config.daemon, id);
  auto token = store ? store->Get(WebhookTokenStoreName(id)) : Result<std::string>(Status::NotFound(""));
  const RemoteHook* ours = nullptr;
  int count = 0;
  for (const auto& h : *listed) {
    if (h.url.rfind(prefix, 0) != 0) continue;
    ++count;
    if (!ours || (token.ok() && h.url == prefix + *token)) ours = &h;
  }
  if (!ours) return "webhook: NOT registered (no hook delivers to " + prefix + "...; run `gitsyncd webhook register " + c.name + "`)";
  std::string text = "webhook: registered (id " + ours->id + ")";
  if (token.ok() && ours->url != prefix + *token) text += ", but with an old token: run `gitsyncd webhook register`";
  if (!ours->as_wanted) text += ", drifted (" + ours->drift + ")";
  if (count > 1) text += ", " + std::to_string(count - 1) + " duplicate(s)";
  auto last = (*hooks)->LastDelivery(ours->id);
  if (!last.ok()) return text + "; last delivery unknown: " + last.status().message();
  if (!last->reported) return text;
  if (!last->any) return text + "; no delivery yet";
  return text + "; last delivery " + last->when + ": HTTP " + std::to_string(last->status_code) + " (" + last->status + ")";
}

}  // namespace gitsyncd
