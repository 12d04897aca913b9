// The validated, immutable configuration: daemon settings plus connectors and their sync
// bindings. Built by LoadConfig (config_loader.h); reload builds a new one and swaps it in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/provider.h"
#include "base/status.h"

namespace gitsyncd {

// Files larger than max_file_size are not synced in either direction (reported, never
// deleted); the setting is bounded because a file is held in memory while it is stored.
inline constexpr uint64_t kDefaultMaxFileSize = 64ull * 1024 * 1024;
inline constexpr uint64_t kMinMaxFileSize = 1024;
inline constexpr uint64_t kMaxMaxFileSize = 1024ull * 1024 * 1024;

// Where a value came from, for error messages: "file:line:column".
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based; 0 = unknown
  std::string ToString() const;  // "file:line:col" (or just "file")
};

// A secret is never written in YAML: it is a reference, resolved at use (secret_resolver.h).
struct SecretRef {
  enum class Kind { kNone, kStore /* {secret: NAME} */, kFile /* {file: PATH} */, kEnv /* {env: VAR} */ };
  Kind kind = Kind::kNone;
  std::string value;  // store name, file path, or variable name
  SourceLocation where;
  bool present() const { return kind != Kind::kNone; }
};

enum class UrlType { kAccount, kRepo };
enum class FetchMode { kGit, kApi };
enum class SyncDirection { kPush /* local -> Git */, kPull /* Git -> local */, kBidirectional };
enum class ConflictPolicy { kKeepBoth, kPreferRemote, kPreferLocal };

struct AuthConfig {
  std::string username;     // HTTPS user; for SSH defaults to "git"
  SecretRef password;       // password or token (HTTPS only)
  SecretRef ssh_key;        // private key (SSH only)
  std::string known_hosts;  // path of a known_hosts file (SSH)
};

struct ApiConfig {
  SecretRef token;  // enables provider API access
  std::string url;  // API base URL; empty = the provider's public default
  std::string version;  // Azure REST api-version ("7.0"); empty = the highest the server serves, up to 7.1
};

struct CommitAuthor {
  std::string name = "gitsyncd";
  std::string email = "gitsyncd@localhost";
};

struct WebhookConfig {
  bool enabled = false;
  SecretRef secret;         // HMAC secret / token configured in the provider
  bool allow_sha1 = false;  // accept GitHub deliveries signed only with SHA-1
  // Safety-net polling for the connector's bindings that set no poll_interval of their own:
  // a delivery that never arrives is caught up within this time. 0 = off.
  std::chrono::seconds poll_interval{300};
  // The daemon registers the hook itself in every repository the connector syncs
  // (docs/webhooks.md, "Managed webhooks"); needs api.token, secret and listen.public_url.
  bool manage = false;
  SourceLocation manage_where;
};

// Hooks (docs/sync.md, "Hooks"): programs a pass runs, each an argv list (no shell unless the
// operator writes one) with a time limit after which its whole process group is killed.
inline constexpr std::chrono::seconds kDefaultHookTimeout{60};
inline constexpr std::chrono::seconds kMaxHookTimeout{600};
struct HookConfig {
  std::vector<std::string> command;  // empty = no hook
  std::chrono::seconds timeout = kDefaultHookTimeout;
  bool set() const { return !command.empty(); }
};
struct HooksConfig {
  HookConfig validate_remote;  // on the remote's tree, before it is applied to the folder
  HookConfig validate_local;   // on the tree to push, before the push
  HookConfig after_pull;       // after a pass changed the folder
};

// One binding: (connector, repo, branch, path) <-> local folder.
struct SyncBinding {
  std::string name;
  std::string repo;        // account URLs: the repo name; repo URLs: empty
  std::string branch;      // defaults to the connector's branch
  std::string path;        // folder inside the repo, "" = root; no leading/trailing '/'
  std::string local;       // absolute path of the local folder, normalised
  SyncDirection direction = SyncDirection::kBidirectional;
  ConflictPolicy on_conflict = ConflictPolicy::kKeepBoth;
  std::chrono::seconds poll_interval{0};  // 0 = no polling; default webhook.poll_interval when enabled
  std::optional<uint64_t> max_file_size;  // bytes; unset = the daemon's max_file_size
  // Files and folders a pull creates: these modes whatever the daemon's umask (an executable
  // file also gets x where file_mode has r), and this group when set (by name; gid resolved).
  uint32_t file_mode = 0644;
  uint32_t dir_mode = 0755;
  std::string group;
  int64_t gid = -1;  // -1: the daemon's own group
  std::string remote_url;  // composed clone URL (account URL + repo, or the connector URL)
  HooksConfig hooks;       // each hook the sync sets, else the connector's
  SourceLocation where;

  // Ignore rules (gitignore syntax) in the order they apply, a later one winning: the built-in
  // defaults (config/ignore_rules.h) unless ignore_defaults is false, the connector's
  // `ignore:`, then the sync's. The folder's .gitignore files decide what these do not match.
  std::vector<std::string> ignore_rules;
  bool ignore_defaults = true;

  // The commit message template (config/commit_message.h): the sync's `commit_message`, else
  // the connector's, else the default.
  std::string commit_message;

  // Fleet (docs/fleet.md#exclusive-bindings): at most one live instance runs it, the owner
  // elected through etcd. Without `cluster:`, ignored (the daemon is the only instance).
  bool exclusive = false;
};

struct ConnectorConfig {
  std::string name;
  Provider provider = Provider::kGit;
  UrlType url_type = UrlType::kRepo;
  std::string url;
  UrlScheme scheme = UrlScheme::kHttps;
  std::string branch = "main";
  AuthConfig auth;
  ApiConfig api;
  CommitAuthor commit_author;
  FetchMode fetch = FetchMode::kGit;
  WebhookConfig webhook;
  std::string test_repo;  // account URLs: the repo test-connection uses
  HooksConfig hooks;      // the default of its syncs, hook by hook
  std::vector<SyncBinding> syncs;
  std::string file;  // the connectors.d file it came from

  // Ignore rules every sync of the connector gets (see SyncBinding::ignore_rules).
  std::vector<std::string> ignore;
  std::optional<bool> ignore_defaults;  // unset: the sync's own setting, default true

  std::string commit_message;  // the connector's template; empty: the default
  // Post a commit status on each commit a pass synced (docs/operations.md, "Commit statuses").
  bool report_status = false;
  // Fleet (docs/fleet.md): an instance runs this connector's syncs only if it carries every
  // one of these `cluster.selectors`; empty = every instance. Without `cluster:`, ignored.
  std::vector<std::string> delegate_selectors;
  SourceLocation where;
};

struct ListenConfig {
  bool configured = false;   // gitsyncd.yaml has a `listen` section
  std::string address = "127.0.0.1";
  uint16_t port = 8787;
  std::string tls_cert;      // empty = plain HTTP (behind a reverse proxy)
  std::string tls_key;
  std::string public_url;    // base of generated webhook URLs; default http://address:port
  uint64_t max_body_bytes = 5 * 1024 * 1024;
  unsigned max_connections = 256;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds header_timeout{5};  // a request line and headers must arrive within this
};

// The operator listener (gitsyncd.yaml `operator:`): status page, /metrics and /api/. Apart from
// the public listener, so nothing that reaches the webhooks reaches these.
// The operator listener is on by default, on loopback; `listen: off` turns its TCP side off.
struct OperatorConfig {
  bool configured = false;       // gitsyncd.yaml has an `operator` section
  bool tcp = true;               // false: `listen: off`
  std::string address = "127.0.0.1";
  uint16_t port = 8788;
  std::string socket;            // a unix socket to serve the same endpoints on (absolute; "" = none)
  std::string tls_cert, tls_key; // both set = HTTPS
  SecretRef admin_token;         // when set, every operator request must carry it
  std::vector<std::string> hosts;  // Host names accepted besides localhost and IP literals
  // Where people reach the status page (through a proxy, a VPN); commit statuses link to it.
  // Empty: they carry no link.
  std::string public_url;
};

// gitsyncd.yaml `cluster:` (docs/fleet.md): the instance joins a fleet coordinated through
// etcd. Absent = a standalone daemon that needs no etcd.
inline constexpr std::chrono::seconds kDefaultClusterLeaseTtl{10};
struct ClusterConfig {
  bool configured = false;
  std::vector<std::string> endpoints;  // "http(s)://host:port" of etcd members (normalised, no '/')
  SecretRef ca;                        // PEM CA bundle that signed the members' certificates
  SecretRef client_cert, client_key;   // PEM client certificate and key (both or neither)
  std::vector<std::string> selectors;  // this instance's labels (connector delegate_selectors)
  std::string prefix = "/gitsyncd/";   // every key the fleet writes is under it
  std::chrono::seconds lease_ttl = kDefaultClusterLeaseTtl;  // membership and ownership leases
  // Authenticates the objects the receiving instance relays through etcd (docs/fleet.md,
  // "Relayed objects"); absent = no relay, every instance fetches from the Git server.
  SecretRef relay_key;
  SourceLocation where;
};

// gitsyncd.yaml `config_source:` (docs/fleet.md, "Config from Git"): connectors.d is a pull
// binding of a Git branch. It is defined here because gitsyncd.yaml never comes from Git, so
// no push can remove or redirect the binding that brings the pushes.
struct ConfigSourceConfig {
  bool configured = false;
  ConnectorConfig connector;              // its one pull sync, named kConfigSourceName, into `folder`
  std::string folder;                     // <config dir>/connectors.d
  std::vector<std::string> local_roots;   // every sync from Git syncs a folder under one of these
  bool allow_hooks = false;               // connectors from Git may set hooks
  // Secret name -> the hosts (lower case) a connector from Git may send that secret to; a
  // secret not named here may not be used by a connector from Git at all.
  std::map<std::string, std::vector<std::string>> secret_hosts;
};

// gitsyncd.yaml
struct DaemonConfig {
  std::string state_dir = "/var/lib/gitsyncd";
  std::string master_key;    // default <state_dir>/master.key; "${CREDENTIALS_DIRECTORY}" expands
  std::string secrets_dir;   // default <state_dir>/secrets
  std::string log_level = "info";
  std::string log_format = "text";  // "json": one JSON object per line
  std::string ca_file;       // extra CA bundle for HTTPS remotes and APIs
  unsigned workers = 4;      // Git worker threads
  unsigned workers_per_remote = 0;  // workers one remote (host:port) may hold; 0 = half of workers
  // A remote that moves no byte for this long fails the pass (HTTPS remotes and provider APIs).
  std::chrono::seconds io_timeout{30};
  uint64_t max_file_size = kDefaultMaxFileSize;  // files larger than this are not synced
  // Folders under which `import` may put synced folders (absolute, normalized); empty = anywhere.
  std::vector<std::string> import_roots;
  // This daemon's one name: in commit status contexts (gitsyncd/<instance>/<binding>) and, in a
  // fleet, its member record and etcd keys. Default: the short host name.
  std::string instance;
  ListenConfig listen;
  OperatorConfig operator_api;
  ClusterConfig cluster;
  ConfigSourceConfig config_source;
  std::string file;
};

struct Config {
  std::string dir;  // the config directory
  DaemonConfig daemon;
  std::vector<ConnectorConfig> connectors;

  const ConnectorConfig* FindConnector(std::string_view name) const;
};

std::string_view UrlTypeName(UrlType t);
std::string_view FetchModeName(FetchMode m);
std::string_view SyncDirectionName(SyncDirection d);
std::string_view ConflictPolicyName(ConflictPolicy p);

}  // namespace gitsyncd

namespace gitsyncd {

// Paths derived from gitsyncd.yaml. The master key path may contain "${CREDENTIALS_DIRECTORY}"
// (systemd LoadCredential=); it is expanded here, and an error says so when it is unset.
Result<std::string> MasterKeyPath(const DaemonConfig& daemon);
std::string SecretsDir(const DaemonConfig& daemon);
// Connector files written by `import`: <state_dir>/imports.d, writable under the unit's sandbox
// (the config directory is not); loaded with connectors.d.
std::string ImportsDir(const DaemonConfig& daemon);
// Per-binding state lives under <state_dir>/bindings/<name>.
std::string BindingStateDir(const DaemonConfig& daemon, const std::string& binding_name);

// The connector's id in webhook URLs (/webhooks/<id>/<token>) and state file names: the name
// lowercased with spaces as '-' when it is plain ASCII ("Team A" -> "team-a"); other names
// get a readable ASCII part plus 8 hex digits of the name's SHA-256, so ids stay URL-safe.
std::string ConnectorId(std::string_view name);

}  // namespace gitsyncd
