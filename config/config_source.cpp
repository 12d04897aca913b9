#include "config/config_source.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "config/config_values.h"
#include "config/connector_file.h"
#include "config/provider.h"
#include "config/text.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kConfigSourceKeys = {"url", "branch", "path", "auth", "poll_interval", "local_roots",
                                                    "allow_hooks", "secret_hosts"};
constexpr const char* kDefaultPoll = "1m";
// The config binding writes no file a config load would refuse to read (config_loader.cpp).
constexpr const char* kMaxConfigFile = "1MiB";

bool Under(const std::string& path, const std::string& root) {
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          (root == "/" || path[root.size()] == '/'));
}

void LoadLocalRoots(YamlMap& m, ConfigSourceConfig* out) {
  if (!m.Has("local_roots")) {
    return m.sink()->Add(m.Where(), "config_source.local_roots",
                         "required key is missing: the folders under which a connector from Git may sync (e.g. [/srv/app])");
  }
  LoadFolderList(m.Get("local_roots"), "config_source.local_roots", m.sink(), &out->local_roots);
  if (out->local_roots.empty() && m.Get("local_roots").IsSequence()) {
    m.sink()->Add(m.Get("local_roots"), "config_source.local_roots", "must name at least one folder");
  }
}

// A host name as secret_hosts lists it: letters, digits, '.', '-', or an IP address (IPv6 in
// brackets); no scheme, user, port or path.
bool IsHostName(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  if (h.front() == '[') return h.back() == ']' && h.find_first_not_of("0123456789abcdefABCDEF:.[]") == std::string::npos;
  return h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
}

// secret_hosts: {NAME: [host, ...]}: where each secret a connector from Git uses may go.
void LoadSecretHosts(YamlMap& m, ConfigSourceConfig* out) {
  if (!m.Has("secret_hosts")) return;
  const std::string key = "config_source.secret_hosts";
  YAML::Node node = m.Get("secret_hosts");
  if (!node.IsMap()) {
    return m.sink()->Add(node, key, "must map each secret's name to the hosts it may be sent to, e.g. "
                                    "{web-token: [git.example.com]}");
  }
  for (const auto& entry : node) {
    std::string item = key + "." + entry.first.Scalar();
    const YAML::Node& hosts = entry.second;
    if (!hosts.IsSequence() || hosts.size() == 0) {
      m.sink()->Add(hosts, item, "must be a list of host names, e.g. [git.example.com]");
      continue;
    }
    std::vector<std::string>& into = out->secret_hosts[entry.first.Scalar()];
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (!hosts[i].IsScalar() || !IsHostName(hosts[i].Scalar())) {
        m.sink()->Add(hosts[i], item + "[" + std::to_string(i) + "]",
                      "must be a host name such as git.example.com (no scheme, user, port or path)");
      } else {
        into.push_back(AsciiLower(hosts[i].Scalar()));
      }
    }
  }
}

// The connector the binding is: provider git, one pull sync into connectors.d. Built as the
// YAML a connector file would hold, from the user's own nodes (their errors keep file:line),
// and read by the connector loader, so it checks url, branch, path and auth as for any connector.
YAML::Node ConnectorNode(YamlMap& m, const std::string& folder) {
  YAML::Node c(YAML::NodeType::Map);
  c["name"] = kConfigSourceName;
  c["provider"] = "git";
  for (const char* key : {"url", "branch", "auth"}) {
    if (m.Has(key)) c[key] = m.Get(key);
  }
  YAML::Node s(YAML::NodeType::Map);
  s["name"] = kConfigSourceName;
  s["local"] = folder;
  s["direction"] = "pull";
  s["max_file_size"] = kMaxConfigFile;
  s["poll_interval"] = m.Has("poll_interval") ? m.Get("poll_interval") : YAML::Node(kDefaultPoll);
  if (m.Has("path")) s["path"] = m.Get("path");
  c["syncs"].push_back(s);
  return c;
}

// The source's binding is known by its name (status, metrics): no connector file may take it.
void CheckReservedName(const ConnectorConfig& c, std::vector<ConfigError>* errors) {
  const std::string why = std::string("'") + kConfigSourceName + "' is reserved for the binding of gitsyncd.yaml's config_source";
  if (AsciiLower(c.name) == kConfigSourceName) errors->push_back({c.where, "name", why});
  for (const auto& s : c.syncs) {
    if (AsciiLower(s.name) == kConfigSourceName) errors->push_back({s.where, "name", why});
  }
}

// Every host a connector's secrets may be sent to: its clone URLs' and its API's. A URL whose
// host cannot be told counts as itself, which no secret_hosts entry matches.
std::set<std::string> SecretDestinations(const ConnectorConfig& c) {
  std::set<std::string> hosts;
  auto add = [&](const std::string& url) {
    if (url.empty() || url.rfind("file://", 0) == 0) return;
    std::string host = UrlHost(url);
    hosts.insert(host.empty() ? url : host);
  };
  add(c.url);
  for (const auto& s : c.syncs) add(s.remote_url);
  add(c.api.url.empty() ? std::string(DefaultApiBase(c.provider)) : c.api.url);
  return hosts;
}

// A {secret: NAME} of a connector from Git goes only where secret_hosts lets NAME go: a push
// could otherwise point the connector at its own server and receive the secret.
void CheckSecretHosts(const ConfigSourceConfig& src, const std::string& daemon_file, const ConnectorConfig& c,
                      const std::string& key, const SecretRef& ref, std::vector<ConfigError>* errors) {
  auto allowed = src.secret_hosts.find(ref.value);
  if (allowed == src.secret_hosts.end()) {
    errors->push_back({ref.where, key,
                       "secret '" + ref.value + "' is not in config_source.secret_hosts of " + daemon_file +
                           ": a connector from Git may send a secret only to the hosts listed for it there, or a "
                           "push could send it to any server (add e.g. " + ref.value + ": [git.example.com])"});
    return;
  }
  std::string listed;
  for (const auto& h : allowed->second) listed += (listed.empty() ? "" : ", ") + h;
  for (const auto& host : SecretDestinations(c)) {
    if (std::find(allowed->second.begin(), allowed->second.end(), host) != allowed->second.end()) continue;
    errors->push_back({ref.where, key,
                       "secret '" + ref.value + "' would be sent to " + host + ", which config_source.secret_hosts of " +
                           daemon_file + " does not list for it (it lists " + listed + ")"});
  }
}

}  // namespace

void LoadConfigSource(const YAML::Node& node, const std::string& dir, const std::string& file, ConfigSourceConfig* out,
                      std::vector<ConfigError>* errors) {
  ErrorSink sink(file, errors);
  YamlMap m(node, "config_source", &sink, kConfigSourceKeys);
  if (!m.valid()) return;
  out->configured = true;
  out->folder = NormalizeAbsolute((fs::absolute(dir) / "connectors.d").string());
  LoadLocalRoots(m, out);
  out->allow_hooks = m.Bool("allow_hooks").value_or(false);
  LoadSecretHosts(m, out);
  if (!m.Has("url")) return sink.Add(m.Where(), "config_source.url", "required key is missing");
  size_t first = errors->size();
  LoadConnector(ConnectorNode(m, out->folder), file, &out->connector, errors);
  for (size_t i = first; i < errors->size(); ++i) {  // keys as written under config_source
    std::string& key = (*errors)[i].key;
    if (key.rfind("syncs[0].", 0) == 0) key.erase(0, 9);
    key = "config_source." + key;
  }
}

void CheckConfigSourceRules(const Config& config, const std::string& pushed_dir, std::vector<ConfigError>* errors) {
  const ConfigSourceConfig& src = config.daemon.config_source;
  for (const auto& c : config.connectors) {
    if (src.configured && &c == &config.connectors.front()) continue;  // the source's own connector
    CheckReservedName(c, errors);
    std::error_code ec;
    std::string file = c.file.empty() ? "" : fs::absolute(c.file, ec).string();
    if (!src.configured || file.empty() || !Under(NormalizeAbsolute(file), pushed_dir)) continue;
    std::string roots;
    for (const auto& r : src.local_roots) roots += (roots.empty() ? "" : ", ") + r;
    for (size_t i = 0; i < c.syncs.size(); ++i) {
      const SyncBinding& s = c.syncs[i];
      bool inside = false;
      for (const auto& r : src.local_roots) inside = inside || Under(s.local, r);
      if (!s.local.empty() && !inside) {
        errors->push_back({s.where, "syncs[" + std::to_string(i) + "].local",
                           "folder " + s.local + " is outside config_source.local_roots (" + roots + ") of " +
                               config.daemon.file + "; a connector from Git may sync only folders under them"});
      }
      bool hooks = s.hooks.validate_remote.set() || s.hooks.validate_local.set() || s.hooks.after_pull.set();
      if (hooks && !src.allow_hooks) {
        errors->push_back({s.where, "syncs[" + std::to_string(i) + "].hooks",
                           "a connector from Git may not run hooks (whoever can push to the config repository "
                           "would run programs as the daemon's user) unless config_source.allow_hooks is true in " +
                               config.daemon.file});
      }
    }
    const std::pair<const char*, const SecretRef*> refs[] = {{"auth.password", &c.auth.password},
                                                              {"auth.ssh_key", &c.auth.ssh_key},
                                                              {"api.token", &c.api.token},
                                                              {"webhook.secret", &c.webhook.secret}};
    for (const auto& [key, ref] : refs) {
      if (ref->kind == SecretRef::Kind::kStore) CheckSecretHosts(src, config.daemon.file, c, key, *ref, errors);
      if (!ref->present() || ref->kind == SecretRef::Kind::kStore) continue;
      errors->push_back({ref->where, key,
                         "a connector from Git may use only {secret: NAME} (the local encrypted store): "
                         "{file: ...} and {env: ...} would let a push send any file or variable the daemon can "
                         "read to a server"});
    }
  }
}

}  // namespace gitsyncd
