#include "config/connector_file.h"

#include <grp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "config/cluster_config.h"
#include "config/commit_message.h"
#include "config/config_values.h"
#include "config/ignore_rules.h"
#include "config/name_rules.h"
#include "config/text.h"
#include "config/yaml_reader.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

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

// path (inside the repository) and local (the folder) of a sync.
void LoadSyncFolders(YamlMap& m, SyncBinding* s) {
  ErrorSink* sink = m.sink();
  if (auto v = m.String("path")) {
    std::string p = fs::path(*v).lexically_normal().generic_string();
    p = WithoutTrailingSlashes(p);
    if (p == ".") p.clear();
    if (!v->empty() && (*v)[0] == '/') {
      sink->Add(m.Get("path"), m.KeyPath("path"), "must be relative to the repository root (no leading '/')");
    } else if (p == ".." || p.rfind("../", 0) == 0 || v->find('\0') != std::string::npos) {
      sink->Add(m.Get("path"), m.KeyPath("path"), "must stay inside the repository (no '..')");
    } else if (NamesDotGit(p)) {
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
  LoadSyncFolders(m, s);
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

// url: parsed and classified; false when it is missing or refused.
bool LoadUrl(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
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
      return true;
    }
  }
  return false;
}

void LoadAuth(YamlMap& m, ErrorSink& sink, bool url_ok, ConnectorConfig* c) {
  if (!m.Has("auth")) return;
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

// An SSH URL: the user from the URL unless auth.username is set, and a key and a
// known_hosts file are required.
void CheckSshAuth(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
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

void LoadApi(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
  if (!m.Has("api")) return;
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

void LoadCommitAuthor(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
  if (!m.Has("commit_author")) return;
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

void LoadFetch(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
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
}

void LoadWebhook(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
  if (!m.Has("webhook")) return;
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

void LoadSyncs(YamlMap& m, ErrorSink& sink, ConnectorConfig* c) {
  if (!m.Has("syncs")) return;
  YAML::Node list = m.Get("syncs");
  if (!list.IsSequence()) return sink.Add(list, "syncs", "expected a list of sync bindings");
  for (size_t i = 0; i < list.size(); ++i) {
    YamlMap s(list[i], "syncs[" + std::to_string(i) + "]", &sink, kSyncKeys);
    if (!s.valid()) continue;
    SyncBinding b;
    LoadSync(s, *c, &b);
    c->syncs.push_back(std::move(b));
  }
}

}  // namespace

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
  bool url_ok = LoadUrl(m, sink, c);
  if (auto v = m.String("branch")) {
    std::string why = CheckBranchName(*v);
    if (!why.empty()) {
      sink.Add(m.Get("branch"), "branch", "branch '" + *v + "' " + why);
    } else {
      c->branch = *v;
    }
  }
  LoadAuth(m, sink, url_ok, c);
  if (url_ok && c->scheme == UrlScheme::kSsh) CheckSshAuth(m, sink, c);
  LoadApi(m, sink, c);
  LoadCommitAuthor(m, sink, c);
  LoadFetch(m, sink, c);
  LoadWebhook(m, sink, c);
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
  LoadSyncs(m, sink, c);
}

}  // namespace gitsyncd

namespace gitsyncd {
namespace {

void EmitSecret(YAML::Emitter& out, const char* key, const SecretRef& r) {
  if (!r.present()) return;
  const char* kind = r.kind == SecretRef::Kind::kStore ? "secret" : r.kind == SecretRef::Kind::kFile ? "file" : "env";
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << kind << YAML::Value
      << r.value << YAML::EndMap;
}

void EmitList(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  if (items.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& i : items) out << i;
  out << YAML::EndSeq;
}

std::string Seconds(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

std::string Octal(uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode);
  return text;
}

void EmitHooks(YAML::Emitter& out, const HooksConfig& hooks) {
  const std::pair<const char*, const HookConfig*> all[] = {
      {"validate_remote", &hooks.validate_remote}, {"validate_local", &hooks.validate_local}, {"after_pull", &hooks.after_pull}};
  if (!hooks.validate_remote.set() && !hooks.validate_local.set() && !hooks.after_pull.set()) return;
  out << YAML::Key << "hooks" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, hook] : all) {
    if (!hook->set()) continue;
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "command" << YAML::Value << YAML::Flow << hook->command;
    out << YAML::Key << "timeout" << YAML::Value << Seconds(hook->timeout) << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void EmitAccess(YAML::Emitter& out, const ConnectorConfig& c) {
  const AuthConfig& a = c.auth;
  if (!a.username.empty() || a.password.present() || a.ssh_key.present() || !a.known_hosts.empty()) {
    out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
    if (!a.username.empty()) out << YAML::Key << "username" << YAML::Value << a.username;
    EmitSecret(out, "password", a.password);
    EmitSecret(out, "ssh_key", a.ssh_key);
    if (!a.known_hosts.empty()) out << YAML::Key << "known_hosts" << YAML::Value << a.known_hosts;
    out << YAML::EndMap;
  }
  if (c.api.token.present() || !c.api.url.empty() || !c.api.version.empty()) {
    out << YAML::Key << "api" << YAML::Value << YAML::BeginMap;
    EmitSecret(out, "token", c.api.token);
    if (!c.api.url.empty()) out << YAML::Key << "url" << YAML::Value << c.api.url;
    if (!c.api.version.empty()) out << YAML::Key << "version" << YAML::Value << c.api.version;
    out << YAML::EndMap;
  }
  CommitAuthor fallback;
  if (c.commit_author.name != fallback.name || c.commit_author.email != fallback.email) {
    out << YAML::Key << "commit_author" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
        << c.commit_author.name << YAML::Key << "email" << YAML::Value << c.commit_author.email << YAML::EndMap;
  }
}

void EmitWebhook(YAML::Emitter& out, const WebhookConfig& w) {
  WebhookConfig fallback;
  if (!w.enabled && !w.secret.present() && !w.manage) return;
  out << YAML::Key << "webhook" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "enabled" << YAML::Value << w.enabled;
  EmitSecret(out, "secret", w.secret);
  if (w.allow_sha1) out << YAML::Key << "allow_sha1" << YAML::Value << true;
  if (w.poll_interval != fallback.poll_interval) out << YAML::Key << "poll_interval" << YAML::Value << Seconds(w.poll_interval);
  if (w.manage) out << YAML::Key << "manage" << YAML::Value << true;
  out << YAML::EndMap;
}

// A sync's own settings; its ignore rules, commit message and hooks are the connector's.
void EmitSync(YAML::Emitter& out, const ConnectorConfig& c, const SyncBinding& s) {
  static const char* kDirections[] = {"push", "pull", "bidirectional"};
  static const char* kPolicies[] = {"keep-both", "prefer-remote", "prefer-local"};
  SyncBinding fallback;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name;
  if (!s.repo.empty()) out << YAML::Key << "repo" << YAML::Value << s.repo;
  if (!s.branch.empty() && s.branch != c.branch) out << YAML::Key << "branch" << YAML::Value << s.branch;
  if (!s.path.empty()) out << YAML::Key << "path" << YAML::Value << s.path;
  out << YAML::Key << "local" << YAML::Value << s.local;
  out << YAML::Key << "direction" << YAML::Value << kDirections[static_cast<int>(s.direction)];
  if (s.on_conflict != fallback.on_conflict) {
    out << YAML::Key << "on_conflict" << YAML::Value << kPolicies[static_cast<int>(s.on_conflict)];
  }
  std::chrono::seconds inherited = c.webhook.enabled ? c.webhook.poll_interval : std::chrono::seconds(0);
  if (s.poll_interval != inherited) out << YAML::Key << "poll_interval" << YAML::Value << Seconds(s.poll_interval);
  if (s.max_file_size) out << YAML::Key << "max_file_size" << YAML::Value << *s.max_file_size;
  if (s.file_mode != fallback.file_mode) out << YAML::Key << "file_mode" << YAML::Value << Octal(s.file_mode);
  if (s.dir_mode != fallback.dir_mode) out << YAML::Key << "dir_mode" << YAML::Value << Octal(s.dir_mode);
  if (!s.group.empty()) out << YAML::Key << "group" << YAML::Value << s.group;
  if (s.exclusive) out << YAML::Key << "exclusive" << YAML::Value << true;
  out << YAML::EndMap;
}

}  // namespace

std::string ConnectorFileText(const ConnectorConfig& c, const std::string& comment) {
  YAML::Emitter out;
  for (size_t start = 0; start < comment.size();) {
    size_t end = comment.find('\n', start);
    out << YAML::Comment(comment.substr(start, end - start)) << YAML::Newline;
    start = end == std::string::npos ? comment.size() : end + 1;
  }
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.name;
  out << YAML::Key << "provider" << YAML::Value << std::string(ProviderName(c.provider));
  out << YAML::Key << "url_type" << YAML::Value << (c.url_type == UrlType::kAccount ? "account" : "repo");
  out << YAML::Key << "url" << YAML::Value << c.url << YAML::Key << "branch" << YAML::Value << c.branch;
  EmitAccess(out, c);
  if (c.fetch == FetchMode::kApi) out << YAML::Key << "fetch" << YAML::Value << "api";
  EmitWebhook(out, c.webhook);
  if (c.report_status) out << YAML::Key << "report_status" << YAML::Value << true;
  if (!c.test_repo.empty()) out << YAML::Key << "test_repo" << YAML::Value << c.test_repo;
  EmitList(out, "ignore", c.ignore);
  if (c.ignore_defaults) out << YAML::Key << "ignore_defaults" << YAML::Value << *c.ignore_defaults;
  if (!c.commit_message.empty()) out << YAML::Key << "commit_message" << YAML::Value << c.commit_message;
  EmitList(out, "delegate_selectors", c.delegate_selectors);
  EmitHooks(out, c.hooks);
  out << YAML::Key << "syncs" << YAML::Value << YAML::BeginSeq;
  for (const SyncBinding& s : c.syncs) EmitSync(out, c, s);
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gitsyncd
