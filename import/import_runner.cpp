#include "import/import_runner.h"

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
#include "config/connector_file.h"
#include "config/name_rules.h"
#include "config/private_files.h"
#include "config/text.h"
#include "sync/remote_credentials.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

// The connector an import writes for repository `repo` of account connector `c`: every setting
// of the account connector, for that one repository, with one sync.
ConnectorConfig ImportedConnector(const ConnectorConfig& c, const std::string& name, const std::string& url,
                                  const std::string& branch, const ImportRequest& o, const std::string& local) {
  ConnectorConfig out = c;
  out.name = name;
  out.url_type = UrlType::kRepo;
  out.url = url;
  out.branch = branch;
  out.test_repo.clear();
  SyncBinding s;
  s.name = name;
  s.branch = branch;
  s.path = o.path;
  s.local = local;
  s.direction = o.direction == "push" ? SyncDirection::kPush : o.direction == "pull" ? SyncDirection::kPull
                                                                                      : SyncDirection::kBidirectional;
  s.poll_interval = c.webhook.enabled ? c.webhook.poll_interval : std::chrono::seconds(0);
  out.syncs = {std::move(s)};
  return out;
}

std::string ImportComment(const ConnectorConfig& c, const RemoteRepo& repo) {
  auto now = std::time(nullptr);
  char when[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d", &tm);
  return "Imported by `gitsyncd import " + c.name + "` from " + repo.full_name + " on " + when + ".";
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

namespace {

// The account's repositories the request names, through the provider API.
Result<std::vector<RemoteRepo>> ChosenRepositories(const Config& config, const ConnectorConfig& c,
                                                   const SecretStore* store, const ImportRequest& o) {
  auto creds = ResolveRemoteCredentials(config, c, c.url, store);
  if (!creds.ok()) return creds.status();
  ApiTarget target;
  target.provider = c.provider;
  target.api_base = c.api.url;
  target.api_version = c.api.version;
  target.remote_url = c.url;
  target.token = creds->api_token;
  target.http.ca_file = config.daemon.ca_file;
  auto api = MakeProviderApi(target);
  if (!api.ok()) return api.status();
  std::string account = BitbucketServerRepoPath(RepoPathFromUrl(c.url));
  // A GitHub (Gitea, Gogs) account is one name: the URL's last path part.
  if (c.provider == Provider::kGitHub) account = account.substr(account.rfind('/') + 1);
  auto repos = (*api)->ListRepositories(account);
  if (!repos.ok()) return repos.status().WithContext("import from '" + c.name + "' failed");
  if (o.all) return repos;
  std::vector<RemoteRepo> chosen;
  for (const auto& r : *repos) {
    if (AsciiLower(r.name) == AsciiLower(o.repo)) chosen.push_back(r);
  }
  if (chosen.empty()) {
    return Status::NotFound("no repository named '" + o.repo + "' in " + account + " (or the API token cannot see it)");
  }
  return chosen;
}

// Why repository `r` is not imported as `name`; empty when it may be.
std::string WhyNotImported(const RemoteRepo& r, const std::string& name, const ImportRequest& o,
                           const std::set<std::string>& taken, const fs::path& dir) {
  if (!r.can_read) return "the API token may not read it";
  if (r.archived) return "archived";
  if (std::string bad = CheckImportName(name); !bad.empty()) {
    return "name '" + name + "' " + bad + (o.all ? "" : " (choose another with --name)");
  }
  if (taken.count(AsciiLower(name))) return "a connector or sync named '" + name + "' already exists";
  if (fs::exists(dir / (name + ".yaml"))) return "file " + (dir / (name + ".yaml")).string() + " already exists";
  return "";
}

// Writes repository `r`'s connector file and checks the whole config with it (a file that
// does not validate is removed again). Empty, or why not.
std::string ImportOne(const Config& config, const ConnectorConfig& c, const RemoteRepo& r, const std::string& name,
                      const ImportRequest& o, const fs::path& final_path) {
  auto url = ComposeRepoUrl(c.provider, c.url, r.name);
  if (!url.ok()) return url.status().message();
  std::string branch = !o.branch.empty() ? o.branch : !r.default_branch.empty() ? r.default_branch : c.branch;
  std::string local = o.all ? (fs::path(o.local_root) / name).string() : o.local;
  std::string text = ConnectorFileText(ImportedConnector(c, name, *url, branch, o, local), ImportComment(c, r));
  std::string why = WriteConnectorFile(final_path.parent_path(), final_path, text);
  if (!why.empty()) return why;
  ConfigLoadResult check = LoadConfig(config.dir);
  if (check.ok()) return "";
  std::error_code ec;
  fs::remove(final_path, ec);
  return "the new connector does not validate: " + check.errors.front().ToString();
}

}  // namespace

ImportProgress RunImport(const Config& config, const SecretStore* store, const ImportRequest& o,
                         const std::atomic<bool>& cancel, const std::function<void(const ImportProgress&)>& on_progress) {
  ImportProgress p;
  p.state = "started";
  auto finish = [&](std::string state, std::string error = "") {
    p.state = std::move(state);
    p.error = std::move(error);
    on_progress(p);
    return p;
  };
  if (Status s = ValidateImportRequest(config, o); !s.ok()) return finish("failed", s.message());
  const ConnectorConfig& c = *config.FindConnector(o.connector);
  on_progress(p);
  auto chosen = ChosenRepositories(config, c, store, o);
  if (!chosen.ok()) return finish("failed", chosen.status().message());
  p.total = chosen->size();
  on_progress(p);
  std::set<std::string> taken;
  for (const auto& con : config.connectors) {
    taken.insert(AsciiLower(con.name));
    for (const auto& s : con.syncs) taken.insert(AsciiLower(s.name));
  }
  fs::path dir = ImportsDir(config.daemon);
  for (const RemoteRepo& r : *chosen) {
    if (cancel) return finish("canceled");
    std::string name = !o.name.empty() ? o.name : r.name;
    fs::path final_path = dir / (name + ".yaml");
    std::string why = WhyNotImported(r, name, o, taken, dir);
    if (why.empty()) why = ImportOne(config, c, r, name, o, final_path);
    if (why.empty()) {
      taken.insert(AsciiLower(name));
      ++p.imported;
      p.lines.push_back("imported " + r.full_name + " as '" + name + "' -> " + final_path.string());
    } else {
      ++p.skipped;
      p.lines.push_back("skipped " + r.full_name + ": " + why);
    }
    ++p.done;
    on_progress(p);
  }
  return finish("finished");
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
