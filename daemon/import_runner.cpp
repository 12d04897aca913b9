#include "daemon/import_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "api/provider_api.h"
#include "config/config_loader.h"
#include "config/name_rules.h"
#include "config/private_files.h"
#include "daemon/remote_credentials.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string SecretYaml(const SecretRef& r) {
  switch (r.kind) {
    case SecretRef::Kind::kStore: return "{secret: " + r.value + "}";
    case SecretRef::Kind::kFile: return "{file: \"" + r.value + "\"}";
    case SecretRef::Kind::kEnv: return "{env: " + r.value + "}";
    case SecretRef::Kind::kNone: break;
  }
  return "";
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ConnectorYaml(const ConnectorConfig& c, const RemoteRepo& repo, const std::string& name,
                          const std::string& url, const std::string& branch, const ImportRequest& o,
                          const std::string& local) {
  auto now = std::time(nullptr);
  char when[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d", &tm);
  std::string y = "# Imported by `gitsyncd import " + c.name + "` from " + repo.full_name + " on " + when + ".\n";
  y += "name: " + Quote(name) + "\nprovider: " + std::string(ProviderName(c.provider)) + "\nurl_type: repo\nurl: " +
       Quote(url) + "\nbranch: " + Quote(branch) + "\n";
  std::string auth;
  if (!c.auth.username.empty()) auth += "  username: " + Quote(c.auth.username) + "\n";
  if (c.auth.password.present()) auth += "  password: " + SecretYaml(c.auth.password) + "\n";
  if (c.auth.ssh_key.present()) auth += "  ssh_key: " + SecretYaml(c.auth.ssh_key) + "\n";
  if (!c.auth.known_hosts.empty()) auth += "  known_hosts: " + Quote(c.auth.known_hosts) + "\n";
  if (!auth.empty()) y += "auth:\n" + auth;
  if (c.api.token.present()) {
    y += "api:\n  token: " + SecretYaml(c.api.token) + "\n";
    if (!c.api.url.empty()) y += "  url: " + Quote(c.api.url) + "\n";
  }
  y += "commit_author:\n  name: " + Quote(c.commit_author.name) + "\n  email: " + Quote(c.commit_author.email) + "\n";
  if (c.webhook.enabled) {
    y += "webhook:\n  enabled: true\n";
    if (c.webhook.secret.present()) y += "  secret: " + SecretYaml(c.webhook.secret) + "\n";
  }
  y += "syncs:\n  - name: " + Quote(name) + "\n    local: " + Quote(local) + "\n";
  if (!o.path.empty()) y += "    path: " + Quote(o.path) + "\n";
  y += "    direction: " + o.direction + "\n";
  return y;
}

// Under the unit's sandbox only listed folders are writable: with import_roots set, an import
// puts folders nowhere else.
Status CheckUnderImportRoots(const DaemonConfig& daemon, const std::string& folder) {
  if (daemon.import_roots.empty()) return Status::Ok();
  fs::path target = fs::path(folder).lexically_normal();
  if (target.is_absolute()) {
    for (const auto& root : daemon.import_roots) {
      auto rel = target.lexically_relative(root);
      if (!rel.empty() && *rel.begin() != "..") return Status::Ok();
    }
  }
  std::string roots;
  for (const auto& r : daemon.import_roots) roots += (roots.empty() ? "" : ", ") + r;
  return Status::InvalidArgument("folder " + folder + " is not under import_roots (" + roots +
                                 " in gitsyncd.yaml): only there may an import put synced folders");
}

// Writes a new connector file at `final_path` (never over an existing one), owned like its
// folder: the state directory's user when the CLI runs as root. Empty, or why not.
std::string WriteConnectorFile(const fs::path& dir, const fs::path& final_path, const std::string& yaml) {
  if (Status made = MakePrivateDirs(dir.string()); !made.ok()) return made.message();
  fs::path tmp = dir / ("." + final_path.filename().string() + ".import-tmp");
  std::error_code ec;
  fs::remove(tmp, ec);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return "cannot write " + tmp.string() + ": " + std::strerror(errno);
  GiveToFolderOwner(fd, dir.string());
  bool ok = true;
  for (size_t done = 0; ok && done < yaml.size();) {
    ssize_t n = ::write(fd, yaml.data() + done, yaml.size() - done);
    ok = n > 0 || (n < 0 && errno == EINTR);
    if (n > 0) done += static_cast<size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  std::string why = ok ? "" : "cannot write " + tmp.string();
  // link(2) fails if the name exists: never overwrite, even against a concurrent writer.
  if (why.empty() && ::link(tmp.c_str(), final_path.c_str()) != 0) why = "file " + final_path.string() + " already exists";
  fs::remove(tmp, ec);
  return why;
}

}  // namespace

Status ValidateImportRequest(const Config& config, const ImportRequest& o) {
  const ConnectorConfig* c = config.FindConnector(o.connector);
  if (!c) return Status::NotFound("no connector named '" + o.connector + "' in " + config.dir);
  if (c->url_type != UrlType::kAccount) {
    return Status::InvalidArgument("connector '" + c->name + "' names one repository (url_type: repo); import needs an "
                                   "account connector (url_type: account)");
  }
  if (!c->api.token.present()) {
    return Status::InvalidArgument("connector '" + c->name + "' has no api.token: import lists repositories through the provider API");
  }
  if (o.all == !o.repo.empty()) return Status::InvalidArgument("give either --repo NAME or --all");
  if (o.all && o.local_root.empty()) return Status::InvalidArgument("--all needs --local-root DIR (each repo syncs into DIR/<name>)");
  if (!o.all && o.local.empty()) return Status::InvalidArgument("--repo needs --local DIR");
  if (o.direction != "push" && o.direction != "pull" && o.direction != "bidirectional") {
    return Status::InvalidArgument("direction must be push, pull or bidirectional");
  }
  return CheckUnderImportRoots(config.daemon, o.all ? o.local_root : o.local);
}

ImportProgress RunImport(const Config& config, const SecretStore* store, const ImportRequest& o,
                         const std::atomic<bool>& cancel, const std::function<void(const ImportProgress&)>& on_progress) {
  ImportProgress p;
  p.state = "started";
  auto fail = [&](const std::string& why) {
    p.state = "failed";
    p.error = why;
    on_progress(p);
    return p;
  };
  if (Status s = ValidateImportRequest(config, o); !s.ok()) return fail(s.message());
  const ConnectorConfig* c = config.FindConnector(o.connector);
  auto creds = ResolveRemoteCredentials(config, *c, c->url, store);
  if (!creds.ok()) return fail(creds.status().message());
  ApiTarget target;
  target.provider = c->provider;
  target.api_base = c->api.url;
  target.api_version = c->api.version;
  target.remote_url = c->url;
  target.token = creds->api_token;
  target.http.ca_file = config.daemon.ca_file;
  auto api = MakeProviderApi(target);
  if (!api.ok()) return fail(api.status().message());
  std::string account = BitbucketServerRepoPath(RepoPathFromUrl(c->url));
  // A GitHub (Gitea, Gogs) account is one name: the URL's last path part.
  if (c->provider == Provider::kGitHub) account = account.substr(account.rfind('/') + 1);
  on_progress(p);
  auto repos = (*api)->ListRepositories(account);
  if (!repos.ok()) return fail("import from '" + c->name + "' failed: " + repos.status().message());

  std::vector<RemoteRepo> chosen;
  if (o.all) {
    chosen = *repos;
  } else {
    for (const auto& r : *repos) {
      if (Lower(r.name) == Lower(o.repo)) chosen.push_back(r);
    }
    if (chosen.empty()) return fail("no repository named '" + o.repo + "' in " + account + " (or the API token cannot see it)");
  }
  p.total = chosen.size();
  on_progress(p);

  std::set<std::string> taken;
  for (const auto& con : config.connectors) {
    taken.insert(Lower(con.name));
    for (const auto& s : con.syncs) taken.insert(Lower(s.name));
  }
  fs::path dir = ImportsDir(config.daemon);
  for (const RemoteRepo& r : chosen) {
    if (cancel) {
      p.state = "canceled";
      on_progress(p);
      return p;
    }
    std::string name = !o.name.empty() ? o.name : r.name;
    std::string why;
    if (!r.can_read) {
      why = "the API token may not read it";
    } else if (r.archived) {
      why = "archived";
    } else if (std::string bad = CheckImportName(name); !bad.empty()) {
      why = "name '" + name + "' " + bad + (o.all ? "" : " (choose another with --name)");
    } else if (taken.count(Lower(name))) {
      why = "a connector or sync named '" + name + "' already exists";
    } else if (fs::exists(dir / (name + ".yaml"))) {
      why = "file " + (dir / (name + ".yaml")).string() + " already exists";
    }
    if (why.empty()) {
      auto url = ComposeRepoUrl(c->provider, c->url, r.name);
      std::string branch = !o.branch.empty() ? o.branch : !r.default_branch.empty() ? r.default_branch : c->branch;
      std::string local = o.all ? (fs::path(o.local_root) / name).string() : o.local;
      if (!url.ok()) {
        why = url.status().message();
      } else {
        fs::path final_path = dir / (name + ".yaml");
        std::error_code ec;
        why = WriteConnectorFile(dir, final_path, ConnectorYaml(*c, r, name, *url, branch, o, local));
        if (why.empty()) {
          ConfigLoadResult check = LoadConfig(config.dir);
          if (!check.ok()) {
            fs::remove(final_path, ec);
            why = "the new connector does not validate: " + check.errors.front().ToString();
          }
        }
        if (why.empty()) {
          taken.insert(Lower(name));
          ++p.imported;
          p.lines.push_back("imported " + r.full_name + " as '" + name + "' -> " + final_path.string());
        }
      }
    }
    if (!why.empty()) {
      ++p.skipped;
      p.lines.push_back("skipped " + r.full_name + ": " + why);
    }
    ++p.done;
    on_progress(p);
  }
  p.state = "finished";
  on_progress(p);
  return p;
}

namespace json = boost::json;

json::object ToJson(const ImportRequest& r) {
  return {{"connector", r.connector}, {"repo", r.repo}, {"name", r.name}, {"branch", r.branch}, {"path", r.path},
          {"local", r.local}, {"local_root", r.local_root}, {"direction", r.direction}, {"all", r.all}};
}

Result<ImportRequest> ImportRequestFromJson(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("an import request is a JSON object");
  const auto& o = v.as_object();
  ImportRequest r;
  auto str = [&](const char* k, std::string* out) {
    if (auto* x = o.if_contains(k)) {
      if (!x->is_string()) return false;
      *out = std::string(x->as_string());
    }
    return true;
  };
  for (auto [k, out] : {std::pair{"connector", &r.connector}, {"repo", &r.repo}, {"name", &r.name},
                        {"branch", &r.branch}, {"path", &r.path}, {"local", &r.local},
                        {"local_root", &r.local_root}, {"direction", &r.direction}}) {
    if (!str(k, out)) return Status::InvalidArgument(std::string("'") + k + "' must be a string");
  }
  if (auto* a = o.if_contains("all")) {
    if (!a->is_bool()) return Status::InvalidArgument("'all' must be true or false");
    r.all = a->as_bool();
  }
  if (r.connector.empty()) return Status::InvalidArgument("'connector' is required");
  return r;
}

json::object ToJson(const ImportProgress& p) {
  json::array lines;
  for (const auto& l : p.lines) lines.emplace_back(l);
  return {{"state", p.state}, {"total", p.total}, {"done", p.done}, {"imported", p.imported},
          {"skipped", p.skipped}, {"lines", std::move(lines)}, {"error", p.error}};
}

ImportProgress ImportProgressFromJson(const json::value& v) {
  ImportProgress p;
  if (!v.is_object()) return p;
  const auto& o = v.as_object();
  auto num = [&](const char* k) { auto* x = o.if_contains(k); return x && x->is_number() ? x->to_number<size_t>() : size_t{0}; };
  if (auto* s = o.if_contains("state"); s && s->is_string()) p.state = s->as_string();
  if (auto* s = o.if_contains("error"); s && s->is_string()) p.error = s->as_string();
  p.total = num("total");
  p.done = num("done");
  p.imported = num("imported");
  p.skipped = num("skipped");
  if (auto* l = o.if_contains("lines"); l && l->is_array()) {
    for (const auto& x : l->as_array()) {
      if (x.is_string()) p.lines.emplace_back(x.as_string());
    }
  }
  return p;
}

}  // namespace gitsyncd
