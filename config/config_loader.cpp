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
constexpr std::chrono::seconds kMinPollInterval{10};

// "https://user:token@host/...": a password or token in the URL (an https user alone is often
// a token too). ssh:// and scp-like URLs may name a user; a password there is refused as well.
bool HasUrlCredentials(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  size_t start = scheme + 3;
  std::string authority = url.substr(start, url.find_first_of("/?#", start) - start);
  size_t at = authority.rfind('@');
  if (at == std::string::npos) return false;
  return url.rfind("ssh://", 0) != 0 || authority.substr(0, at).find(':') != std::string::npos;
}

const std::vector<std::string> kDaemonKeys = {"state_dir",  "master_key", "secrets_dir",        "log_level",
                                              "log_format", "ca_file",    "workers",            "listen",
                                              "io_timeout", "workers_per_remote", "operator",
                                              "max_file_size", "import_roots", "instance", "cluster"};
const std::vector<std::string> kListenKeys = {"address",        "port",            "tls_cert",    "tls_key",
                                              "public_url",     "max_body_bytes",  "max_connections",
                                              "read_timeout",   "header_timeout",  "admin_token"};
const std::vector<std::string> kOperatorKeys = {"listen",      "socket", "tls_cert",  "tls_key",
                                                "admin_token", "hosts",  "public_url"};
const std::vector<std::string> kConnectorKeys = {"name",  "provider",      "url_type", "url",     "branch",
                                                 "auth",  "api",           "commit_author", "fetch",
                                                 "webhook", "test_repo",   "syncs",
                                                 "ignore", "ignore_defaults",
                                                 "commit_message", "hooks", "report_status",
                                                 "delegate_selectors"};
const std::vector<std::string> kAuthKeys = {"username", "password", "ssh_key", "known_hosts"};
const std::vector<std::string> kApiKeys = {"token", "url", "version"};
const std::vector<std::string> kAuthorKeys = {"name", "email"};
const std::vector<std::string> kWebhookKeys = {"enabled", "secret", "allow_sha1", "poll_interval", "manage"};
const std::vector<std::string> kSyncKeys = {"name",      "repo",        "branch",       "path",
                                            "local",     "direction",   "on_conflict",  "poll_interval",
                                            "max_file_size", "file_mode",   "dir_mode",     "group",
                                            "ignore", "ignore_defaults",
                                            "commit_message", "hooks", "exclusive"};
const std::vector<std::string> kHooksKeys = {"validate_remote", "validate_local", "after_pull"};
const std::vector<std::string> kHookKeys = {"command", "timeout"};

// file_mode / dir_mode of a sync: octal ("0640"), within 0777, and never taking the owner's
// own read and write (and, for folders, search) away: the daemon must keep using what it made.
std::optional<uint32_t> FolderMode(YamlMap& m, ErrorSink* sink, const char* key, uint32_t owner_needs) {
  auto v = m.String(key);
  if (!v) return std::nullopt;
  char* end = nullptr;
  unsigned long mode = std::strtoul(v->c_str(), &end, 8);
  if (v->empty() || *end != '\0' || mode > 0777 || (mode & owner_needs) != owner_needs) {
    char need[8];
    std::snprintf(need, sizeof need, "%04o", owner_needs);
    sink->Add(m.Get(key), m.KeyPath(key),
              "must be an octal mode up to 0777 that keeps the owner's " + std::string(need) + " bits, found '" + *v + "'");
    return std::nullopt;
  }
  return static_cast<uint32_t>(mode);
}

// `ignore:` of a connector or sync: a list of gitignore lines, each checked on its own.
std::vector<std::string> IgnoreList(YamlMap& m, ErrorSink* sink) {
  std::vector<std::string> out;
  if (!m.Has("ignore")) return out;
  YAML::Node list = m.Get("ignore");
  if (!list.IsSequence()) {
    sink->Add(list, m.KeyPath("ignore"), "expected a list of gitignore patterns");
    return out;
  }
  if (list.size() > kMaxIgnoreRules) {
    sink->Add(list, m.KeyPath("ignore"), "more than " + std::to_string(kMaxIgnoreRules) + " rules");
    return out;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string key = m.KeyPath("ignore") + "[" + std::to_string(i) + "]";
    std::string why = list[i].IsScalar() ? IgnoreRuleProblem(list[i].Scalar()) : "must be a string";
    if (why.empty()) {
      out.push_back(list[i].Scalar());
    } else {
      sink->Add(list[i], key, "ignore rule " + why);
    }
  }
  return out;
}

// `commit_message:` of a connector or sync: a template whose placeholders are all known.
std::optional<std::string> CommitTemplate(YamlMap& m, ErrorSink* sink) {
  auto v = m.String("commit_message");
  if (!v) return std::nullopt;
  std::string why = CommitTemplateProblem(*v);
  if (!why.empty()) {
    sink->Add(m.Get("commit_message"), m.KeyPath("commit_message"), "template " + why);
    return std::nullopt;
  }
  return v;
}

// group of a sync: a group name or number that exists on this host.
void LoadGroup(YamlMap& m, ErrorSink* sink, SyncBinding* s) {
  auto v = m.String("group");
  if (!v) return;
  struct group grp {};
  struct group* found = nullptr;
  std::vector<char> buf(16384);
  bool numeric = !v->empty() && v->find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    getgrgid_r(static_cast<gid_t>(std::stoul(*v)), &grp, buf.data(), buf.size(), &found);
  } else {
    getgrnam_r(v->c_str(), &grp, buf.data(), buf.size(), &found);
  }
  if (found == nullptr) {
    sink->Add(m.Get("group"), m.KeyPath("group"), "no group '" + *v + "' on this host");
    return;
  }
  s->group = *v;
  s->gid = found->gr_gid;
}

// max_file_size of gitsyncd.yaml or of one sync, checked against its bounds.
std::optional<uint64_t> MaxFileSize(YamlMap& m, ErrorSink* sink) {
  auto v = m.Size("max_file_size");
  if (v && (*v < kMinMaxFileSize || *v > kMaxMaxFileSize)) {
    sink->Add(m.Get("max_file_size"), m.KeyPath("max_file_size"), "must be between 1KiB and 1GiB");
    return std::nullopt;
  }
  return v;
}

// Lexically normalised absolute path without a trailing slash.
std::string NormalizeAbsolute(const std::string& p) {
  std::string s = fs::path(p).lexically_normal().string();
  return WithoutTrailingSlashes(s, /*keep_root=*/true);
}

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

// gitsyncd.yaml `import_roots:`, a list of absolute folders.
void LoadImportRoots(const YAML::Node& node, ErrorSink* sink, std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    sink->Add(node, "import_roots", "must be a list of absolute paths");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string key = "import_roots[" + std::to_string(i) + "]";
    if (!node[i].IsScalar() || !fs::path(node[i].Scalar()).is_absolute()) {
      sink->Add(node[i], key, "must be an absolute path");
    } else if (NormalizeAbsolute(node[i].Scalar()) == "/") {
      sink->Add(node[i], key, "must not be /");
    } else {
      out->push_back(NormalizeAbsolute(node[i].Scalar()));
    }
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
  if (m.Has("import_roots")) LoadImportRoots(m.Get("import_roots"), &sink, &d->import_roots);
  if (m.Has("cluster")) LoadCluster(m.Get("cluster"), &sink, &d->cluster);
  if (!m.Has("listen")) return;
  YamlMap l(m.Get("listen"), "listen", &sink, kListenKeys);
  ListenConfig& lc = d->listen;
  lc.configured = true;
  if (auto v = l.String("address")) lc.address = *v;
  if (auto v = l.Unsigned("port", 0, 65535)) lc.port = static_cast<uint16_t>(*v);
  if (auto v = l.String("tls_cert")) lc.tls_cert = fs::path(*v).is_absolute() ? *v : (fs::absolute(dir) / *v).string();
  if (auto v = l.String("tls_key")) lc.tls_key = fs::path(*v).is_absolute() ? *v : (fs::absolute(dir) / *v).string();
  if (lc.tls_cert.empty() != lc.tls_key.empty()) {
    sink.Add(l.Where(), "listen", "tls_cert and tls_key must be given together");
  }
  if (auto v = PublicUrl(l, "listen.public_url")) lc.public_url = *v;
  if (auto v = l.Size("max_body_bytes")) {
    if (*v < 1024 || *v > 1024ull * 1024 * 1024) {
      sink.Add(l.Get("max_body_bytes"), "listen.max_body_bytes", "must be between 1KiB and 1GiB");
    } else {
      lc.max_body_bytes = *v;
    }
  }
  if (auto v = l.Unsigned("max_connections", 1, 100000)) lc.max_connections = static_cast<unsigned>(*v);
  if (l.Has("admin_token")) {
    sink.Add(l.Get("admin_token"), "listen.admin_token",
             "moved to operator.admin_token: the status page, /metrics and /api/ have their own listener (`operator:`)");
  }
  if (auto v = l.Duration("read_timeout")) {
    if (v->count() < 1 || v->count() > 600) {
      sink.Add(l.Get("read_timeout"), "listen.read_timeout", "must be between 1s and 10m");
    } else {
      lc.read_timeout = *v;
    }
  }
  if (auto v = l.Duration("header_timeout")) {
    if (v->count() < 1 || v->count() > 60) {
      sink.Add(l.Get("header_timeout"), "listen.header_timeout", "must be between 1s and 60s");
    } else {
      lc.header_timeout = *v;
    }
  }
}

// hooks: {validate_remote|validate_local|after_pull: {command: [argv...], timeout: 60s}}; a
// hook given here replaces the one in `hooks` (the connector's, for a sync).
void LoadHooks(YamlMap& parent, HooksConfig* hooks) {
  if (!parent.Has("hooks")) return;
  ErrorSink* sink = parent.sink();
  YamlMap all(parent.Get("hooks"), parent.KeyPath("hooks"), sink, kHooksKeys);
  for (const auto& name : kHooksKeys) {
    if (!all.Has(name)) continue;
    HookConfig* h = name == "validate_remote"  ? &hooks->validate_remote
                    : name == "validate_local" ? &hooks->validate_local
                                               : &hooks->after_pull;
    YamlMap one(all.Get(name), all.KeyPath(name), sink, kHookKeys);
    if (!one.valid()) continue;
    HookConfig loaded;
    YAML::Node cmd = one.Get("command");
    // A missing key is an invalid node, which yaml-cpp's IsSequence() throws on.
    bool ok = cmd.IsDefined() && cmd.IsSequence() && cmd.size() > 0 && cmd.size() <= 256;
    for (size_t i = 0; ok && i < cmd.size(); ++i) {
      ok = cmd[i].IsScalar() && !cmd[i].Scalar().empty() && cmd[i].Scalar().find('\0') == std::string::npos;
      if (ok) loaded.command.push_back(cmd[i].Scalar());
    }
    if (!ok) {
      sink->Add(cmd ? cmd : all.Get(name), one.KeyPath("command"),
                "must be a list: the program and its arguments, e.g. [nginx, -t] (no shell runs unless you "
                "write [sh, -c, '...'])");
      continue;
    }
    if (auto t = one.Duration("timeout")) {
      if (t->count() < 1 || *t > kMaxHookTimeout) {
        sink->Add(one.Get("timeout"), one.KeyPath("timeout"), "must be between 1s and 10m");
        continue;
      }
      loaded.timeout = *t;
    }
    *h = std::move(loaded);
  }
}

void LoadSync(YamlMap& m, const ConnectorConfig& c, SyncBinding* s) {
  ErrorSink* sink = m.sink();
  s->where = m.Where();
  s->branch = c.branch;
  if (c.webhook.enabled) s->poll_interval = c.webhook.poll_interval;  // the safety net, unless set below
  s->hooks = c.hooks;  // hook by hook, unless set below
  LoadHooks(m, &s->hooks);
  if (auto v = m.String("name", true)) {
    std::string why = CheckDisplayName(*v);
    if (!why.empty()) sink->Add(m.Get("name"), m.KeyPath("name"), "name '" + *v + "' " + why);
    s->name = *v;
  }
  if (auto v = m.String("repo")) {
    if (c.url_type == UrlType::kRepo) {
      sink->Add(m.Get("repo"), m.KeyPath("repo"),
                "not allowed for a connector with url_type: repo (its url already names the repository)");
    } else {
      s->repo = *v;
    }
  } else if (c.url_type == UrlType::kAccount && m.valid()) {
    sink->Add(m.Where(), m.KeyPath("repo"), "required for a connector with url_type: account");
  }
  if (auto v = m.String("branch")) {
    std::string why = CheckBranchName(*v);
    if (!why.empty()) {
      sink->Add(m.Get("branch"), m.KeyPath("branch"), "branch '" + *v + "' " + why);
    } else {
      s->branch = *v;
    }
  }
  if (auto v = m.String("path")) {
    std::string p = fs::path(*v).lexically_normal().generic_string();
    p = WithoutTrailingSlashes(p);
    if (p == ".") p.clear();
    if (!v->empty() && (*v)[0] == '/') {
      sink->Add(m.Get("path"), m.KeyPath("path"), "must be relative to the repository root (no leading '/')");
    } else if (p == ".." || p.rfind("../", 0) == 0 || v->find('\0') != std::string::npos) {
      sink->Add(m.Get("path"), m.KeyPath("path"), "must stay inside the repository (no '..')");
    } else if (p == ".git" || p.rfind(".git/", 0) == 0 || p.find("/.git/") != std::string::npos ||
               (p.size() >= 5 && p.compare(p.size() - 5, 5, "/.git") == 0)) {
      sink->Add(m.Get("path"), m.KeyPath("path"), "must not name a .git folder");
    } else {
      s->path = p;
    }
  }
  if (auto v = m.String("local", true)) {
    if (v->empty() || (*v)[0] != '/') {
      sink->Add(m.Get("local"), m.KeyPath("local"), "must be an absolute path, found '" + *v + "'");
    } else if (NormalizeAbsolute(*v) == "/") {
      sink->Add(m.Get("local"), m.KeyPath("local"), "must not be the root folder '/'");
    } else {
      s->local = NormalizeAbsolute(*v);
    }
  }
  if (auto v = m.Choice("direction", {"push", "pull", "bidirectional"})) {
    s->direction = *v == "push" ? SyncDirection::kPush : *v == "pull" ? SyncDirection::kPull : SyncDirection::kBidirectional;
  }
  if (auto v = m.Choice("on_conflict", {"keep-both", "prefer-remote", "prefer-local"})) {
    s->on_conflict = *v == "keep-both" ? ConflictPolicy::kKeepBoth
                     : *v == "prefer-remote" ? ConflictPolicy::kPreferRemote
                                             : ConflictPolicy::kPreferLocal;
  }
  if (auto v = MaxFileSize(m, sink)) s->max_file_size = *v;
  if (auto v = FolderMode(m, sink, "file_mode", 0600)) s->file_mode = *v;
  if (auto v = FolderMode(m, sink, "dir_mode", 0700)) s->dir_mode = *v;
  LoadGroup(m, sink, s);
  // Ignore rules: the connector's ignore_defaults unless the sync sets its own.
  std::vector<std::string> own_ignore = IgnoreList(m, sink);
  s->ignore_defaults = m.Bool("ignore_defaults").value_or(c.ignore_defaults.value_or(true));
  s->ignore_rules = EffectiveIgnoreRules(s->ignore_defaults, c.ignore, own_ignore);
  s->commit_message = CommitTemplate(m, sink).value_or(c.commit_message.empty() ? kDefaultCommitMessage : c.commit_message);
  if (auto v = m.Duration("poll_interval")) {
    if (v->count() != 0 && *v < kMinPollInterval) {
      sink->Add(m.Get("poll_interval"), m.KeyPath("poll_interval"), "must be at least 10s (or 0 to disable polling)");
    } else {
      s->poll_interval = *v;
    }
  }
  s->exclusive = m.Bool("exclusive").value_or(false);
  if (c.url_type == UrlType::kAccount && !s->repo.empty()) {
    auto url = ComposeRepoUrl(c.provider, c.url, s->repo);
    if (url.ok()) {
      s->remote_url = *url;
    } else {
      sink->Add(m.Get("repo"), m.KeyPath("repo"), url.status().message());
    }
  } else {
    s->remote_url = c.url;
  }
}

// webhook.manage registers hooks through the provider's API, with the secret deliveries are
// checked against.
void LoadManagedWebhook(YamlMap& w, const ConnectorConfig& c, ErrorSink* sink, WebhookConfig* out) {
  auto v = w.Bool("manage");
  if (!v || !*v) return;
  std::string why = c.provider == Provider::kGit ? "provider 'git' has no API to register hooks with"
                    : !out->enabled              ? "it needs webhook.enabled: true"
                    : !c.api.token.present()     ? "it needs api.token (a token that may manage the hooks)"
                    : !out->secret.present()     ? "it needs webhook.secret (the hook is registered with it)"
                                                 : "";
  if (!why.empty()) return sink->Add(w.Get("manage"), "webhook.manage", why);
  out->manage = true;
  out->manage_where = sink->Where(w.Get("manage"));
}

void LoadReportStatus(YamlMap& m, const ConnectorConfig& c, ErrorSink* sink, bool* out) {
  auto v = m.Bool("report_status");
  if (!v || !*v) return;
  if (c.provider == Provider::kGit) {
    return sink->Add(m.Get("report_status"), "report_status", "provider 'git' has no API for commit statuses");
  }
  if (!c.api.token.present()) {
    return sink->Add(m.Get("report_status"), "report_status",
                     "it needs api.token (a token that may post commit statuses)");
  }
  *out = true;
}

void LoadConnector(const YAML::Node& root, const std::string& file, ConnectorConfig* c,
                   std::vector<ConfigError>* errors) {
  ErrorSink sink(file, errors);
  c->file = file;
  YamlMap m(root, "", &sink, kConnectorKeys);
  c->where = m.Where();
  if (!m.valid()) {
    if (root.IsNull()) sink.Add(SourceLocation{file, 0, 0}, "", "file is empty; expected a connector");
    return;
  }
  if (auto v = m.String("name", true)) {
    std::string why = CheckDisplayName(*v);
    if (!why.empty()) sink.Add(m.Get("name"), "name", "name '" + *v + "' " + why);
    c->name = *v;
  }
  std::vector<std::string> provider_names;
  for (auto p = AllProviderNames(); *p; ++p) provider_names.emplace_back(*p);
  if (!m.Has("provider")) {
    sink.Add(m.Where(), "provider", "required key is missing");
  } else if (auto v = m.Choice("provider", provider_names)) {
    c->provider = *ParseProvider(*v);
  }
  if (auto v = m.Choice("url_type", {"account", "repo"})) {
    c->url_type = *v == "account" ? UrlType::kAccount : UrlType::kRepo;
  }
  bool url_ok = false;
  if (auto v = m.String("url", true)) {
    auto scheme = ClassifyUrl(*v);
    if (HasUrlCredentials(*v)) {  // the value is not echoed: it holds a secret
      sink.Add(m.Get("url"), "url",
               "credentials in the URL are not allowed (they would show in logs, `status` and error messages); "
               "put the user in auth.username and the password or token in auth.password, e.g. "
               "password: {secret: NAME}");
    } else if (!scheme.ok()) {
      sink.Add(m.Get("url"), "url", "'" + *v + "': " + scheme.status().message());
    } else {
      c->url = *v;
      c->scheme = *scheme;
      url_ok = true;
    }
  }
  if (auto v = m.String("branch")) {
    std::string why = CheckBranchName(*v);
    if (!why.empty()) {
      sink.Add(m.Get("branch"), "branch", "branch '" + *v + "' " + why);
    } else {
      c->branch = *v;
    }
  }
  if (m.Has("auth")) {
    YamlMap a(m.Get("auth"), "auth", &sink, kAuthKeys);
    if (auto v = a.String("username")) c->auth.username = *v;
    c->auth.password = a.Secret("password");
    c->auth.ssh_key = a.Secret("ssh_key");
    if (auto v = a.String("known_hosts")) {
      if (v->empty() || (*v)[0] != '/') {
        sink.Add(a.Get("known_hosts"), "auth.known_hosts", "must be an absolute path to a known_hosts file");
      } else {
        c->auth.known_hosts = *v;
      }
    }
    if (url_ok && c->scheme == UrlScheme::kSsh && c->auth.password.present()) {
      sink.Add(a.Get("password"), "auth.password",
               "an SSH URL authenticates with auth.ssh_key, not a password");
    }
    if (url_ok && c->scheme == UrlScheme::kHttps && c->auth.ssh_key.present()) {
      sink.Add(a.Get("ssh_key"), "auth.ssh_key",
               "an HTTPS URL authenticates with auth.password (a password or token), not an SSH key");
    }
  }
  if (url_ok && c->scheme == UrlScheme::kSsh) {
    if (c->auth.username.empty()) {
      // scp-like "user@host:path" or ssh://user@host/...: the URL's user wins over the default.
      std::string rest = c->url.rfind("ssh://", 0) == 0 ? c->url.substr(6) : c->url;
      size_t at = rest.find('@');
      size_t stop = rest.find_first_of(":/");
      c->auth.username = at != std::string::npos && at < stop ? rest.substr(0, at) : "git";
    }
    if (!c->auth.ssh_key.present()) {
      sink.Add(m.WhereKey(m.Has("auth") ? "auth" : "url"), "auth.ssh_key",
               "an SSH URL needs auth.ssh_key");
    }
    if (c->auth.known_hosts.empty()) {
      sink.Add(m.WhereKey(m.Has("auth") ? "auth" : "url"), "auth.known_hosts",
               "an SSH URL needs auth.known_hosts, so the server's host key can be checked");
    }
  }
  if (m.Has("api")) {
    YamlMap a(m.Get("api"), "api", &sink, kApiKeys);
    c->api.token = a.Secret("token");
    if (auto v = a.String("url")) {
      if (v->rfind("https://", 0) != 0) {
        sink.Add(a.Get("url"), "api.url", "must start with https://");
      } else {
        c->api.url = *v;
      }
    }
    if (auto v = a.String("version")) {
      bool ok = !v->empty() && v->size() <= 16 && std::isdigit(static_cast<unsigned char>(v->front())) &&
                v->find_first_not_of("0123456789.") == std::string::npos;
      if (!ok) {
        sink.Add(a.Get("version"), "api.version", "must be an Azure DevOps REST API version such as 7.0");
      } else if (c->provider != Provider::kAzureRepos) {
        sink.Add(a.Get("version"), "api.version", "is only for Azure Repos connectors");
      } else {
        c->api.version = *v;
      }
    }
  }
  if (m.Has("commit_author")) {
    YamlMap a(m.Get("commit_author"), "commit_author", &sink, kAuthorKeys);
    if (auto v = a.String("name")) {
      if (v->empty() || v->find_first_of("<>\n") != std::string::npos) {
        sink.Add(a.Get("name"), "commit_author.name", "must be non-empty and contain no '<', '>' or newline");
      } else {
        c->commit_author.name = *v;
      }
    }
    if (auto v = a.String("email")) {
      size_t at = v->find('@');
      if (at == std::string::npos || at == 0 || at + 1 == v->size() ||
          v->find_first_of("<> \n") != std::string::npos) {
        sink.Add(a.Get("email"), "commit_author.email", "'" + *v + "' is not an email address");
      } else {
        c->commit_author.email = *v;
      }
    }
  }
  if (auto v = m.Choice("fetch", {"git", "api"})) {
    c->fetch = *v == "api" ? FetchMode::kApi : FetchMode::kGit;
    if (c->fetch == FetchMode::kApi) {
      if (c->provider == Provider::kGit) {
        sink.Add(m.Get("fetch"), "fetch", "fetch: api needs a provider REST API; provider 'git' has none");
      } else if (!c->api.token.present()) {
        sink.Add(m.Get("fetch"), "fetch",
                 "fetch: api needs api.token (token auth only; a password cannot be used)");
      }
    }
  }
  if (m.Has("webhook")) {
    YamlMap w(m.Get("webhook"), "webhook", &sink, kWebhookKeys);
    if (auto v = w.Bool("enabled")) c->webhook.enabled = *v;
    c->webhook.secret = w.Secret("secret");
    if (auto v = w.Bool("allow_sha1")) c->webhook.allow_sha1 = *v;
    if (auto v = w.Duration("poll_interval")) {
      if (v->count() != 0 && *v < kMinPollInterval) {
        sink.Add(w.Get("poll_interval"), "webhook.poll_interval", "must be at least 10s (or 0 to turn the safety-net poll off)");
      } else {
        c->webhook.poll_interval = *v;
      }
    }
    LoadManagedWebhook(w, *c, &sink, &c->webhook);
  }
  LoadReportStatus(m, *c, &sink, &c->report_status);
  if (auto v = m.String("test_repo")) {
    if (c->url_type != UrlType::kAccount) {
      sink.Add(m.Get("test_repo"), "test_repo", "only used with url_type: account");
    } else {
      c->test_repo = *v;
    }
  }
  c->ignore = IgnoreList(m, &sink);
  c->ignore_defaults = m.Bool("ignore_defaults");
  c->commit_message = CommitTemplate(m, &sink).value_or("");
  c->delegate_selectors = LoadSelectorList(m, "delegate_selectors");
  LoadHooks(m, &c->hooks);  // before the syncs, which default to them
  if (m.Has("syncs")) {
    YAML::Node list = m.Get("syncs");
    if (!list.IsSequence()) {
      sink.Add(list, "syncs", "expected a list of sync bindings");
    } else {
      for (size_t i = 0; i < list.size(); ++i) {
        YamlMap s(list[i], "syncs[" + std::to_string(i) + "]", &sink, kSyncKeys);
        if (!s.valid()) continue;
        SyncBinding b;
        LoadSync(s, *c, &b);
        c->syncs.push_back(std::move(b));
      }
    }
  }
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

}  // namespace

ConfigLoadResult LoadConfig(const std::string& dir) {
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
  fs::path cdir = fs::path(dir) / "connectors.d";
  std::vector<std::string> files = ConnectorFiles(cdir);
  std::vector<std::string> imported = ConnectorFiles(ImportsDir(config.daemon));
  files.insert(files.end(), imported.begin(), imported.end());
  if (files.size() > kMaxConnectorFiles) {
    result.errors.push_back({{cdir.string(), 0, 0}, "", "more than 1000 connector files; refusing to load"});
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
  std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) < std::tie(b.where.file, b.where.line, b.where.column);
  });
  return result;
}

}  // namespace gitsyncd
