#include "config/config_loader.h"

#include <arpa/inet.h>
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/cluster_config.h"
#include "config/config_source.h"
#include "config/config_values.h"
#include "config/connector_file.h"
#include "config/commit_message.h"
#include "config/ignore_rules.h"
#include "config/name_rules.h"
#include "config/text.h"
#include "config/yaml_reader.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

constexpr uintmax_t kMaxConfigFileBytes = 1024 * 1024;
constexpr size_t kMaxConnectorFiles = 1000;

const std::vector<std::string> kDaemonKeys = {"state_dir",  "master_key", "secrets_dir",        "log_level",
                                              "log_format", "ca_file",    "workers",            "listen",
                                              "io_timeout", "workers_per_remote", "operator",
                                              "max_file_size", "import_roots", "instance", "cluster",
                                              "config_source"};
const std::vector<std::string> kListenKeys = {"address",        "port",            "tls_cert",    "tls_key",
                                              "public_url",     "max_body_bytes",  "max_connections",
                                              "read_timeout",   "header_timeout",  "admin_token"};
const std::vector<std::string> kOperatorKeys = {"listen",      "socket", "tls_cert",  "tls_key",
                                                "admin_token", "hosts",  "public_url"};
bool IsInside(const std::string& child, const std::string& parent) {
  return child.size() > parent.size() && child.compare(0, parent.size(), parent) == 0 &&
         (parent == "/" || child[parent.size()] == '/');
}

// Reads a file with a size limit and parses it; YAML syntax errors get file:line:col.
std::optional<YAML::Node> ParseFile(const std::string& path, std::vector<ConfigError>* errors) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    errors->push_back({{path, 0, 0}, "", "cannot read file: " + ec.message()});
    return std::nullopt;
  }
  if (size > kMaxConfigFileBytes) {
    errors->push_back({{path, 0, 0}, "", "file is larger than 1 MiB; refusing to parse it"});
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) {
    errors->push_back({{path, 0, 0}, "", "cannot read file"});
    return std::nullopt;
  }
  try {
    return YAML::Load(buf.str());
  } catch (const YAML::Exception& e) {
    SourceLocation loc{path, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1};
    errors->push_back({loc, "", "YAML syntax error: " + e.msg});
    return std::nullopt;
  }
}

bool IsLoopbackIp(const std::string& ip) {
  in_addr v4{};
  if (::inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return ip == "::1";
}

// `listen`: "ADDRESS:PORT" or "[IPv6]:PORT".
void ParseOperatorListen(YamlMap& o, const std::string& v, OperatorConfig* oc) {
  if (v == "off") {
    oc->tcp = false;
    return;
  }
  size_t colon = v.rfind(':');
  std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = colon == std::string::npos ? "" : v.substr(colon + 1);
  in6_addr any{};
  bool ip = ::inet_pton(AF_INET, host.c_str(), &any) == 1 || ::inet_pton(AF_INET6, host.c_str(), &any) == 1;
  bool port_ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoul(port) <= 65535;
  if (!ip || !port_ok) {
    o.sink()->Add(o.Get("listen"), "operator.listen",
                  "'" + v + "' is not ADDRESS:PORT with an IP address (e.g. 127.0.0.1:8788), or off");
    return;
  }
  oc->address = host;
  oc->port = static_cast<uint16_t>(std::stoul(port));
}

// `key` ("listen.public_url", "operator.public_url") of `m`: an http(s) URL, without trailing '/'.
std::optional<std::string> PublicUrl(YamlMap& m, const std::string& key) {
  std::string name = key.substr(key.find('.') + 1);
  auto v = m.String(name);
  if (!v) return std::nullopt;
  if (v->rfind("https://", 0) != 0 && v->rfind("http://", 0) != 0) {
    m.sink()->Add(m.Get(name), key, "must start with https:// or http://");
    return std::nullopt;
  }
  return WithoutTrailingSlashes(*v);
}

// gitsyncd.yaml `operator:`. An address other hosts can reach needs TLS and an admin token.
void LoadOperator(const YAML::Node& node, const std::string& dir, ErrorSink* sink, OperatorConfig* oc) {
  YamlMap o(node, "operator", sink, kOperatorKeys);
  oc->configured = true;
  if (auto v = o.String("listen")) ParseOperatorListen(o, *v, oc);
  if (auto v = o.String("socket")) {
    // sun_path holds 107 bytes and a NUL.
    if (!fs::path(*v).is_absolute() || v->size() > 107 || v->back() == '/') {
      sink->Add(o.Get("socket"), "operator.socket", "must be an absolute file path of at most 107 bytes");
    } else {
      oc->socket = NormalizeAbsolute(*v);
    }
  }
  auto path = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (fs::absolute(dir) / p).string(); };
  if (auto v = o.String("tls_cert")) oc->tls_cert = path(*v);
  if (auto v = o.String("tls_key")) oc->tls_key = path(*v);
  if (oc->tls_cert.empty() != oc->tls_key.empty()) {
    sink->Add(o.Where(), "operator", "tls_cert and tls_key must be given together");
  }
  oc->admin_token = o.Secret("admin_token");
  if (auto v = PublicUrl(o, "operator.public_url")) oc->public_url = *v;
  if (o.Has("hosts")) {
    YAML::Node hosts = o.Get("hosts");
    if (!hosts.IsSequence()) sink->Add(hosts, "operator.hosts", "must be a list of host names");
    for (size_t i = 0; hosts.IsSequence() && i < hosts.size(); ++i) {
      if (!hosts[i].IsScalar() || hosts[i].Scalar().empty() ||
          hosts[i].Scalar().find_first_of(":/ ") != std::string::npos) {
        sink->Add(hosts[i], "operator.hosts[" + std::to_string(i) + "]", "must be a host name (no port, no scheme)");
      } else {
        oc->hosts.push_back(AsciiLower(hosts[i].Scalar()));
      }
    }
  }
  if (oc->tcp && !IsLoopbackIp(oc->address) && (oc->tls_cert.empty() || !oc->admin_token.present())) {
    sink->Add(o.Has("listen") ? o.WhereKey("listen") : o.Where(), "operator.listen",
              oc->address + " is reachable from other hosts: set operator.tls_cert, operator.tls_key and "
                            "operator.admin_token, or listen on loopback (127.0.0.1:8788)");
  }
}

// `instance`: this daemon's one name, in commit status contexts and in the fleet.
void LoadInstance(YamlMap& m, std::string* out) {
  if (auto v = m.String("instance")) {
    *out = *v;
  } else {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) *out = host;
    *out = out->substr(0, out->find('.'));  // the short name: FQDNs make long status contexts
  }
  std::string why = ClusterNameProblem(*out);
  if (why.empty()) return;
  if (m.Has("instance")) {
    m.sink()->Add(m.Get("instance"), "instance", "'" + *out + "' " + why);
  } else {
    m.sink()->Add(m.Where(), "instance",
                  "the host name '" + *out + "' " + why + "; set `instance:` to this daemon's name");
  }
}

// `listen:` of gitsyncd.yaml: the webhook listener.
void LoadListen(const YAML::Node& node, const std::string& dir, ErrorSink* sink, ListenConfig* out) {
  YamlMap l(node, "listen", sink, kListenKeys);
  ListenConfig& lc = *out;
  lc.configured = true;
  if (auto v = l.String("address")) lc.address = *v;
  if (auto v = l.Unsigned("port", 0, 65535)) lc.port = static_cast<uint16_t>(*v);
  if (auto v = l.String("tls_cert")) lc.tls_cert = fs::path(*v).is_absolute() ? *v : (fs::absolute(dir) / *v).string();
  if (auto v = l.String("tls_key")) lc.tls_key = fs::path(*v).is_absolute() ? *v : (fs::absolute(dir) / *v).string();
  if (lc.tls_cert.empty() != lc.tls_key.empty()) {
    sink->Add(l.Where(), "listen", "tls_cert and tls_key must be given together");
  }
  if (auto v = PublicUrl(l, "listen.public_url")) lc.public_url = *v;
  if (auto v = l.Size("max_body_bytes")) {
    if (*v < 1024 || *v > 1024ull * 1024 * 1024) {
      sink->Add(l.Get("max_body_bytes"), "listen.max_body_bytes", "must be between 1KiB and 1GiB");
    } else {
      lc.max_body_bytes = *v;
    }
  }
  if (auto v = l.Unsigned("max_connections", 1, 100000)) lc.max_connections = static_cast<unsigned>(*v);
  if (l.Has("admin_token")) {
    sink->Add(l.Get("admin_token"), "listen.admin_token",
             "moved to operator.admin_token: the status page, /metrics and /api/ have their own listener (`operator:`)");
  }
  if (auto v = l.Duration("read_timeout")) {
    if (v->count() < 1 || v->count() > 600) {
      sink->Add(l.Get("read_timeout"), "listen.read_timeout", "must be between 1s and 10m");
    } else {
      lc.read_timeout = *v;
    }
  }
  if (auto v = l.Duration("header_timeout")) {
    if (v->count() < 1 || v->count() > 60) {
      sink->Add(l.Get("header_timeout"), "listen.header_timeout", "must be between 1s and 60s");
    } else {
      lc.header_timeout = *v;
    }
  }
}

void LoadDaemon(const YAML::Node& root, const std::string& dir, const std::string& file, DaemonConfig* d,
                std::vector<ConfigError>* errors) {
  ErrorSink sink(file, errors);
  d->file = file;
  YamlMap m(root, "", &sink, kDaemonKeys);
  auto path_key = [&](const std::string& key, std::string* out) {
    if (auto v = m.String(key)) {
      if (v->empty()) {
        sink.Add(m.Get(key), key, "must not be empty");
        return;
      }
      // Relative paths are relative to the config directory, so a config folder is self-contained.
      *out = NormalizeAbsolute(fs::path(*v).is_absolute() || v->rfind("${", 0) == 0
                                   ? *v
                                   : (fs::absolute(dir) / *v).string());
    }
  };
  path_key("state_dir", &d->state_dir);
  path_key("master_key", &d->master_key);
  path_key("secrets_dir", &d->secrets_dir);
  path_key("ca_file", &d->ca_file);
  if (auto v = m.Choice("log_level", {"trace", "debug", "info", "warn", "error", "critical", "off"})) d->log_level = *v;
  if (auto v = m.Choice("log_format", {"text", "json"})) d->log_format = *v;
  if (auto v = m.Unsigned("workers", 1, 64)) d->workers = static_cast<unsigned>(*v);
  if (m.Has("operator")) LoadOperator(m.Get("operator"), dir, &sink, &d->operator_api);
  if (auto v = m.Unsigned("workers_per_remote", 1, 64)) d->workers_per_remote = static_cast<unsigned>(*v);
  if (auto v = m.Duration("io_timeout")) {
    if (*v < std::chrono::seconds(1) || *v > std::chrono::minutes(30)) {
      sink.Add(m.Get("io_timeout"), "io_timeout", "must be between 1s and 30m");
    } else {
      d->io_timeout = *v;
    }
  }
  if (auto v = MaxFileSize(m, &sink)) d->max_file_size = *v;
  LoadInstance(m, &d->instance);
  if (m.Has("import_roots")) LoadFolderList(m.Get("import_roots"), "import_roots", &sink, &d->import_roots);
  if (m.Has("cluster")) LoadCluster(m.Get("cluster"), &sink, &d->cluster);
  if (m.Has("listen")) LoadListen(m.Get("listen"), dir, &sink, &d->listen);
  if (m.Has("config_source")) LoadConfigSource(m.Get("config_source"), dir, file, &d->config_source, errors);
}

// Rules that span files: unique names, one folder per sync, no nesting, not in state_dir.
void CheckAcrossFiles(const Config& config, std::vector<ConfigError>* errors) {
  std::map<std::string, const ConnectorConfig*> connectors;
  for (const auto& c : config.connectors) {
    if (c.name.empty()) continue;
    auto [it, fresh] = connectors.emplace(AsciiLower(c.name), &c);
    if (!fresh) {
      errors->push_back({c.where, "name",
                         "connector name '" + c.name + "' is already used by " + it->second->file});
    }
  }
  std::map<std::string, const ConnectorConfig*> ids;
  for (const auto& c : config.connectors) {
    if (c.name.empty()) continue;
    auto [it, fresh] = ids.emplace(ConnectorId(c.name), &c);
    if (!fresh && AsciiLower(it->second->name) != AsciiLower(c.name)) {
      errors->push_back({c.where, "name",
                         "connector name '" + c.name + "' has the same webhook id '" + it->first + "' as '" +
                             it->second->name + "' (" + it->second->file + "); rename one of them"});
    }
  }
  for (const auto& c : config.connectors) {
    if (c.webhook.manage && config.daemon.listen.public_url.empty()) {
      errors->push_back({c.webhook.manage_where, "webhook.manage",
                         "needs listen.public_url in " + config.daemon.file +
                             " (the address the provider delivers to; hooks are registered with it)"});
    }
  }
  std::map<std::string, const SyncBinding*> syncs;
  std::vector<const SyncBinding*> all;
  for (const auto& c : config.connectors) {
    for (const auto& s : c.syncs) {
      if (!s.name.empty()) {
        auto [it, fresh] = syncs.emplace(AsciiLower(s.name), &s);
        if (!fresh) {
          errors->push_back({s.where, "name",
                             "sync name '" + s.name + "' is already used at " + it->second->where.ToString()});
        }
      }
      if (!s.local.empty()) all.push_back(&s);
    }
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const SyncBinding& s = *all[i];
    for (size_t j = 0; j < i; ++j) {
      const SyncBinding& o = *all[j];
      if (s.local == o.local) {
        errors->push_back({s.where, "local", "folder " + s.local + " already belongs to sync '" + o.name +
                                                 "' (" + o.where.ToString() + ")"});
      } else if (IsInside(s.local, o.local) || IsInside(o.local, s.local)) {
        errors->push_back({s.where, "local", "folder " + s.local + " and folder " + o.local + " of sync '" +
                                                 o.name + "' (" + o.where.ToString() +
                                                 ") are nested; synced folders must not contain each other"});
      }
    }
    std::string state = NormalizeAbsolute(config.daemon.state_dir);
    if (s.local == state || IsInside(s.local, state) || IsInside(state, s.local)) {
      errors->push_back({s.where, "local", "folder " + s.local + " overlaps the state directory " + state});
    }
  }
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string out = where.ToString();
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

namespace {

// The connector files of one folder, sorted; editor backups and hidden files are not.
std::vector<std::string> ConnectorFiles(const fs::path& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return files;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    std::string name = e.path().filename().string();
    bool yaml = name.size() > 5 && (name.ends_with(".yaml") || name.ends_with(".yml"));
    if (!yaml || name[0] == '.' || name[0] == '#') continue;
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Errors naming a file of `from` (a folder a commit was written into) name it in `to`.
void RenameFiles(const std::string& from, const std::string& to, std::vector<ConfigError>* errors) {
  for (auto& e : *errors) {
    std::string& f = e.where.file;
    if (f == from || f.rfind(from + "/", 0) == 0) f = to + f.substr(from.size());
  }
}

}  // namespace

ConfigLoadResult LoadConfig(const std::string& dir, const std::string& connectors_dir) {
  ConfigLoadResult result;
  Config& config = result.config;
  config.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    result.errors.push_back({{dir, 0, 0}, "", "config directory does not exist or is not a directory"});
    return result;
  }
  std::string daemon_file = (fs::path(dir) / "gitsyncd.yaml").string();
  if (fs::exists(daemon_file, ec)) {
    if (auto root = ParseFile(daemon_file, &result.errors)) {
      LoadDaemon(*root, dir, daemon_file, &config.daemon, &result.errors);
    }
  }
  if (config.daemon.config_source.configured) config.connectors.push_back(config.daemon.config_source.connector);
  fs::path real_cdir = fs::path(dir) / "connectors.d";
  fs::path cdir = connectors_dir.empty() ? real_cdir : fs::path(connectors_dir);
  std::vector<std::string> files = ConnectorFiles(cdir);
  std::vector<std::string> imported = ConnectorFiles(ImportsDir(config.daemon));
  files.insert(files.end(), imported.begin(), imported.end());
  if (files.size() > kMaxConnectorFiles) {
    result.errors.push_back({{real_cdir.string(), 0, 0}, "", "more than 1000 connector files; refusing to load"});
    return result;
  }
  for (const auto& f : files) {
    auto root = ParseFile(f, &result.errors);
    if (!root) continue;
    ConnectorConfig c;
    LoadConnector(*root, f, &c, &result.errors);
    config.connectors.push_back(std::move(c));
  }
  CheckAcrossFiles(config, &result.errors);
  CheckConfigSourceRules(config, NormalizeAbsolute(fs::absolute(cdir).string()), &result.errors);
  if (cdir != real_cdir) RenameFiles(cdir.string(), real_cdir.string(), &result.errors);
  std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
  });
  return result;
}

}  // namespace gitsyncd
