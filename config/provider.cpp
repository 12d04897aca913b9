#include "config/provider.h"

#include <array>

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

}  // namespace gitsyncd
