// `gitsyncd import CONNECTOR (--repo NAME [--name NEW] | --all) ...`: creates one connector
// file per existing remote repository of an account connector (url_type: account + api.token),
// listing the account's repositories through the provider API (all pages). Each file is
// written under a temporary name and linked into place only if that name is free (never
// overwriting), then the whole config is validated with it; a file that does not validate is
// removed again. Ctrl-C (SIGINT/SIGTERM) cancels between repositories: nothing half-written
// stays behind.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "api/provider_api.h"
#include "config/name_rules.h"
#include "daemon/cli.h"
#include "daemon/remote_credentials.h"
#include "sync/api_fetch.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_cancel{false};

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

struct ImportOptions {
  std::string connector, repo, name, branch, path, local, local_root, direction = "bidirectional";
  bool all = false;
};

std::string ConnectorYaml(const ConnectorConfig& c, const RemoteRepo& repo, const std::string& name,
                          const std::string& url, const std::string& branch, const ImportOptions& o,
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

void ProgressBar(size_t done, size_t total) {
  const int width = 30;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), ' ').c_str(), done, total);
  if (done == total) std::fputc('\n', stderr);
}

int Import(CliContext& ctx, const ImportOptions& o) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  const ConnectorConfig* c = config->FindConnector(o.connector);
  if (!c) return UserError("no connector named '" + o.connector + "' in " + ctx.config_dir);
  if (c->url_type != UrlType::kAccount) {
    return UserError("connector '" + c->name + "' names one repository (url_type: repo); import needs an account "
                     "connector (url_type: account)");
  }
  if (!c->api.token.present()) return UserError("connector '" + c->name + "' has no api.token: import lists repositories through the provider API");
  if (o.all == !o.repo.empty()) return UserError("give either --repo NAME or --all");
  if (o.all && o.local_root.empty()) return UserError("--all needs --local-root DIR (each repo syncs into DIR/<name>)");
  if (!o.all && o.local.empty()) return UserError("--repo needs --local DIR");
  auto store = CliContext::OpenStore(config->daemon);
  auto creds = ResolveRemoteCredentials(*config, *c, c->url, store.ok() ? &*store : nullptr);
  if (!creds.ok()) return UserError(creds.status().message());

  ApiTarget target;
  target.provider = c->provider;
  target.api_base = c->api.url;
  target.token = creds->api_token;
  target.http.ca_file = config->daemon.ca_file;
  auto api = MakeProviderApi(target);
  if (!api.ok()) return UserError(api.status().message());
  std::string account = RepoPathFromUrl(c->url);
  if (account.rfind("scm/", 0) == 0) account = account.substr(4);
  // A GitHub (Gitea, Gogs) account is one name: the URL's last path part.
  if (c->provider == Provider::kGitHub) account = account.substr(account.rfind('/') + 1);
  std::fprintf(stderr, "listing the repositories of %s ...\n", account.c_str());
  auto repos = (*api)->ListRepositories(account);
  if (!repos.ok()) return UserError("import from '" + c->name + "' failed: " + repos.status().message());

  std::vector<RemoteRepo> chosen;
  if (o.all) {
    chosen = *repos;
  } else {
    for (const auto& r : *repos) {
      if (Lower(r.name) == Lower(o.repo)) chosen.push_back(r);
    }
    if (chosen.empty()) {
      return UserError("no repository named '" + o.repo + "' in " + account + " (or the API token cannot see it)");
    }
  }

  std::set<std::string> taken;
  for (const auto& con : config->connectors) {
    taken.insert(Lower(con.name));
    for (const auto& s : con.syncs) taken.insert(Lower(s.name));
  }
  fs::path dir = fs::path(config->dir) / "connectors.d";
  size_t imported = 0, skipped = 0, done = 0;
  std::vector<std::string> report;
  for (const RemoteRepo& r : chosen) {
    if (g_cancel) break;
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
        fs::path tmp = dir / ("." + name + ".yaml.import-tmp");
        std::error_code ec;
        fs::create_directories(dir, ec);
        {
          std::ofstream out(tmp, std::ios::trunc);
          out << ConnectorYaml(*c, r, name, *url, branch, o, local);
          out.flush();
          if (!out) why = "cannot write " + tmp.string();
        }
        // link(2) fails if the name exists: never overwrite, even against a concurrent writer.
        if (why.empty() && ::link(tmp.c_str(), final_path.c_str()) != 0) {
          why = "file " + final_path.string() + " already exists";
        }
        fs::remove(tmp, ec);
        if (why.empty()) {
          ConfigLoadResult check = LoadConfig(config->dir);
          if (!check.ok()) {
            fs::remove(final_path, ec);
            why = "the new connector does not validate: " + check.errors.front().ToString();
          }
        }
        if (why.empty()) {
          taken.insert(Lower(name));
          ++imported;
          report.push_back("imported " + r.full_name + " as '" + name + "' -> " + final_path.string());
        }
      }
    }
    if (!why.empty()) {
      ++skipped;
      report.push_back("skipped " + r.full_name + ": " + why);
    }
    ProgressBar(++done, chosen.size());
  }
  for (const auto& line : report) std::printf("%s\n", line.c_str());
  if (g_cancel) {
    std::printf("canceled after %zu of %zu repositories: %zu imported, %zu skipped\n", done, chosen.size(), imported,
                skipped);
    return kExitUserError;
  }
  std::printf("%zu imported, %zu skipped", imported, skipped);
  if (imported) std::printf("; reload the daemon to start syncing (systemctl reload gitsyncd)");
  std::printf("\n");
  return imported == 0 && !o.all ? kExitUserError : kExitOk;
}

}  // namespace

void RegisterImportCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("import", "Create connectors for existing repositories of an account connector");
  auto o = std::make_shared<ImportOptions>();
  cmd->add_option("CONNECTOR", o->connector, "Account connector (url_type: account, with api.token)")->required();
  cmd->add_option("--repo", o->repo, "Import this repository");
  cmd->add_flag("--all", o->all, "Import every repository of the account (all pages)");
  cmd->add_option("--name", o->name, "Name of the new connector and sync (default: the repository name)");
  cmd->add_option("--branch", o->branch, "Branch (default: the repository's default branch)");
  cmd->add_option("--path", o->path, "Folder inside the repository (default: root)");
  cmd->add_option("--local", o->local, "Local folder (with --repo)");
  cmd->add_option("--local-root", o->local_root, "Parent of the local folders (with --all): DIR/<name>");
  cmd->add_option("--direction", o->direction, "push, pull or bidirectional")
      ->check(CLI::IsMember({"push", "pull", "bidirectional"}));
  cmd->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      struct sigaction sa {};
      sa.sa_handler = [](int) { g_cancel = true; };
      sigaction(SIGINT, &sa, nullptr);
      sigaction(SIGTERM, &sa, nullptr);
      return Import(ctx, *o);
    };
  });
}

}  // namespace gitsyncd
