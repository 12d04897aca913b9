#include "config/provider.h"

#include <array>
#include <cctype>
#include <vector>

#include "config/url_encode.h"

#include "config/text.h"

namespace gitsyncd {
namespace {

struct ProviderFacts {
  Provider provider;
  const char* name;
};

constexpr std::array<ProviderFacts, 6> kProviders{{
    {Provider::kGitHub, "github"},
    {Provider::kBitbucketCloud, "bitbucket-cloud"},
    {Provider::kBitbucketServer, "bitbucket-server"},
    {Provider::kGitLab, "gitlab"},
    {Provider::kAzureRepos, "azure-repos"},
    {Provider::kGit, "git"},
}};

constexpr const char* kProviderNames[] = {"github", "bitbucket-cloud", "bitbucket-server",
                                          "gitlab", "azure-repos",     "git",
                                          nullptr};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// scp-like syntax as git understands it: [user@]host:path, where the part before ':' has no
// '/' (otherwise it is a local path).
bool IsScpLike(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= url.size()) return false;
  std::string_view host = url.substr(0, colon);
  if (host.find('/') != std::string_view::npos) return false;
  size_t at = host.find('@');
  std::string_view hostname = at == std::string_view::npos ? host : host.substr(at + 1);
  return !hostname.empty();
}

}  // namespace

std::string_view ProviderName(Provider p) {
  for (const auto& f : kProviders) {
    if (f.provider == p) return f.name;
  }
  return "unknown";
}

std::optional<Provider> ParseProvider(std::string_view name) {
  for (const auto& f : kProviders) {
    if (name == f.name) return f.provider;
  }
  return std::nullopt;
}

const char* const* AllProviderNames() { return kProviderNames; }

Result<UrlScheme> ClassifyUrl(std::string_view url) {
  if (url.empty()) return Status::InvalidArgument("URL is empty");
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20 || c == ' ' || c == 0x7f) {
      return Status::InvalidArgument("URL contains a space or control character");
    }
  }
  if (StartsWith(url, "https://")) {
    if (url.size() == 8) return Status::InvalidArgument("URL has no host");
    return UrlScheme::kHttps;
  }
  if (StartsWith(url, "ssh://")) {
    if (url.size() == 6) return Status::InvalidArgument("URL has no host");
    return UrlScheme::kSsh;
  }
  if (StartsWith(url, "file://")) return UrlScheme::kFile;
  if (StartsWith(url, "http://")) {
    return Status::InvalidArgument(
        "http:// is not allowed: credentials would travel in clear text; use https:// or ssh://");
  }
  if (url.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("unsupported URL scheme; use https://, ssh:// or git@host:path");
  }
  if (IsScpLike(url)) return UrlScheme::kSsh;
  return Status::InvalidArgument("not a remote URL; use https://host/..., ssh://host/... or git@host:path");
}

Result<std::string> ComposeRepoUrl(Provider provider, std::string_view account_url,
                                   std::string_view repo) {
  if (repo.empty()) return Status::InvalidArgument("repository name is empty");
  if (repo.find("..") != std::string_view::npos || repo.front() == '/' || repo.back() == '/') {
    return Status::InvalidArgument("repository name '" + std::string(repo) + "' is not a plain name");
  }
  std::string base(account_url);
  base = WithoutTrailingSlashes(base);
  if (base.empty()) return Status::InvalidArgument("account URL is empty");
  // scp-like "git@host:" with nothing after the colon needs no separating slash.
  std::string sep = base.back() == ':' ? "" : "/";
  std::string name(repo);
  if (provider == Provider::kAzureRepos) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".git") == 0) name.resize(name.size() - 4);
    auto scheme = ClassifyUrl(base);
    if (scheme.ok() && *scheme == UrlScheme::kHttps) return base + sep + "_git/" + name;
    // Azure SSH: git@ssh.dev.azure.com:v3/org/project/repo
    return base + sep + name;
  }
  if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".git") != 0) name += ".git";
  return base + sep + name;
}

std::string RepoPathFromUrl(std::string_view url) {
  std::string rest(url);
  if (auto scheme = rest.find("://"); scheme != std::string::npos) {
    rest = rest.substr(scheme + 3);
    auto slash = rest.find('/');
    rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
  } else if (auto colon = rest.find(':'); colon != std::string::npos) {
    rest = rest.substr(colon + 1);
  }
  rest = WithoutTrailingSlashes(rest);
  if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, ".git") == 0) rest.resize(rest.size() - 4);
  return rest;
}

std::string BitbucketServerRepoPath(std::string_view repo_path) {
  std::string path(repo_path);
  if (path.rfind("scm/", 0) == 0) return path.substr(4);
  if (auto at = path.find("/scm/"); at != std::string::npos) return path.substr(at + 5);
  return path;
}

namespace {

// A repository's web home: "https://host[:port]" and its path ("owner/repo", no ".git").
struct WebRepo {
  std::string origin;
  std::string path;
};

// A URL's authority ("host", "host:port", "[v6]:port") without user info, and its path.
void SplitAuthority(std::string_view url, UrlScheme scheme, std::string* authority, std::string* path) {
  if (scheme != UrlScheme::kSsh || StartsWith(url, "ssh://")) {
    std::string_view rest = url.substr(url.find("://") + 3);
    size_t slash = rest.find('/');
    *authority = std::string(rest.substr(0, slash));
    *path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  } else {  // scp-like user@host:path
    size_t colon = url.find(':');
    *authority = std::string(url.substr(0, colon));
    *path = std::string(url.substr(colon + 1));
  }
  if (size_t at = authority->rfind('@'); at != std::string::npos) *authority = authority->substr(at + 1);
}

std::optional<WebRepo> WebRepoOf(std::string_view url) {
  auto scheme = ClassifyUrl(url);
  if (!scheme.ok() || *scheme == UrlScheme::kFile) return std::nullopt;
  std::string authority, path;
  SplitAuthority(url, *scheme, &authority, &path);
  // An SSH port is not the web server's; an HTTPS one is.
  if (*scheme == UrlScheme::kSsh && authority.find(']') == std::string::npos) {
    authority = authority.substr(0, authority.find(':'));
  }
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  path = WithoutTrailingSlashes(path);
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".git") == 0) path.resize(path.size() - 4);
  if (authority.empty() || path.empty()) return std::nullopt;
  return WebRepo{"https://" + authority, path};
}

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

// Bitbucket Server clones from [CONTEXT/]scm/KEY/SLUG (HTTPS) or KEY/SLUG (SSH); its pages are
// under [CONTEXT/]projects/KEY/repos/SLUG, or users/USER/repos/SLUG for a personal ~USER repo.
std::string BitbucketServerRepoPage(const WebRepo& repo) {
  std::vector<std::string> parts = Segments(repo.path);
  if (parts.size() < 2) return {};
  std::string context;
  size_t scm = parts.size() - 2;
  if (parts.size() >= 3 && parts[parts.size() - 3] == "scm") {
    scm = parts.size() - 3;
    for (size_t i = 0; i < scm; ++i) context += "/" + parts[i];
  } else if (parts.size() != 2) {
    return {};
  }
  const std::string& key = parts[parts.size() - 2];
  const std::string& slug = parts.back();
  if (key.empty() || slug.empty()) return {};
  std::string owner = key[0] == '~' ? "/users/" + UrlEncodeComponent(key.substr(1)) : "/projects/" + UrlEncodeComponent(key);
  return repo.origin + context + owner + "/repos/" + UrlEncodeComponent(slug);
}

// Azure Repos clones from ORG/PROJECT/_git/REPO over HTTPS, v3/ORG/PROJECT/REPO over SSH.
std::string AzureRepoPage(const WebRepo& repo) {
  if (repo.path.find("/_git/") != std::string::npos) return repo.origin + "/" + repo.path;
  std::vector<std::string> parts = Segments(repo.path);
  if (parts.size() != 4 || parts[0] != "v3") return {};
  return "https://dev.azure.com/" + UrlEncodeComponent(parts[1]) + "/" + UrlEncodeComponent(parts[2]) + "/_git/" +
         UrlEncodeComponent(parts[3]);
}

std::string RepoPage(Provider provider, std::string_view clone_url) {
  auto repo = WebRepoOf(clone_url);
  if (!repo) return {};
  switch (provider) {
    case Provider::kGitHub:
    case Provider::kGitLab:
    case Provider::kBitbucketCloud:
      return repo->origin + "/" + repo->path;
    case Provider::kBitbucketServer:
      return BitbucketServerRepoPage(*repo);
    case Provider::kAzureRepos:
      return AzureRepoPage(*repo);
    case Provider::kGit:
      break;
  }
  return {};
}

bool IsHex(std::string_view s) {
  if (s.size() < 4 || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string CommitWebUrl(Provider provider, std::string_view clone_url, std::string_view commit) {
  std::string page = RepoPage(provider, clone_url);
  if (page.empty() || !IsHex(commit)) return {};
  std::string sha(commit);
  switch (provider) {
    case Provider::kGitLab:
      return page + "/-/commit/" + sha;
    case Provider::kBitbucketCloud:
    case Provider::kBitbucketServer:
      return page + "/commits/" + sha;
    default:
      return page + "/commit/" + sha;
  }
}

std::string BranchWebUrl(Provider provider, std::string_view clone_url, std::string_view branch) {
  std::string page = RepoPage(provider, clone_url);
  if (page.empty() || branch.empty()) return {};
  std::string name(branch);
  switch (provider) {
    case Provider::kGitHub:
      return page + "/tree/" + UrlEncodePath(name);
    case Provider::kGitLab:
      return page + "/-/tree/" + UrlEncodePath(name);
    case Provider::kBitbucketCloud:
      return page + "/branch/" + UrlEncodePath(name);
    case Provider::kBitbucketServer:
      return page + "/browse?at=" + UrlEncodeComponent("refs/heads/" + name);
    case Provider::kAzureRepos:
      return page + "?version=GB" + UrlEncodeComponent(name);
    case Provider::kGit:
      break;
  }
  return {};
}

std::string UrlHost(std::string_view url) {
  auto scheme = ClassifyUrl(url);
  if (!scheme.ok() || *scheme == UrlScheme::kFile) return "";
  std::string authority, path;
  SplitAuthority(url, *scheme, &authority, &path);
  size_t port = authority.rfind(':');
  if (port != std::string::npos && authority.find(']', port) == std::string::npos) authority.resize(port);
  return AsciiLower(authority);
}

std::string_view DefaultApiBase(Provider p) {
  switch (p) {
    case Provider::kGitHub:
      return "https://api.github.com";
    case Provider::kBitbucketCloud:
      return "https://api.bitbucket.org";
    case Provider::kGitLab:
      return "https://gitlab.com/api/v4";
    default:
      return "";  // Bitbucket Server: api.url is required; Azure Repos: from the clone URL
  }
}

}  // namespace gitsyncd
