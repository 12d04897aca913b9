// The one table of provider facts: names, URL shapes. Used by config (URL composition),
// webhooks (which provider a delivery claims to be) and the API fetcher.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace gitsyncd {

enum class Provider { kGitHub, kBitbucketCloud, kBitbucketServer, kGitLab, kAzureRepos, kGit };

// The spelling used in YAML: "github", "bitbucket-cloud", "bitbucket-server", "gitlab",
// "azure-repos", "git".
std::string_view ProviderName(Provider p);
std::optional<Provider> ParseProvider(std::string_view name);
// Every valid YAML spelling, for "did you mean" hints and help texts.
const char* const* AllProviderNames();  // null-terminated

// How a remote URL is written.
enum class UrlScheme { kHttps, kSsh /* ssh://... or scp-like git@host:path */, kFile };

// Classifies a URL; error if it is none of https://, ssh://, scp-like user@host:path, file://.
// (http:// is refused: credentials would travel in clear text.)
Result<UrlScheme> ClassifyUrl(std::string_view url);

// The host an https://, ssh:// or scp-like URL connects to, lower case, without user info or
// port ("" for file:// and what is not such a URL): where credentials sent for it go.
std::string UrlHost(std::string_view url);

// The provider's public REST API base, used when a connector sets no api.url: github
// https://api.github.com, bitbucket-cloud https://api.bitbucket.org, gitlab
// https://gitlab.com/api/v4; "" for the others (Bitbucket Server needs api.url; Azure Repos
// derives it from the clone URL's host).
std::string_view DefaultApiBase(Provider p);

// Composes the clone URL of `repo` under an account-level URL, per provider:
//   github, gitlab, bitbucket-cloud, bitbucket-server, git:  <account-url>/<repo>.git
//   azure-repos (project URL):                               <project-url>/_git/<repo>
// SSH forms likewise (scp-like `git@host:account` + `/repo.git`; Azure SSH
// `git@ssh.dev.azure.com:v3/org/project` + `/repo`). A trailing slash on the account URL is
// ignored; a repo already ending in ".git" is not doubled.
Result<std::string> ComposeRepoUrl(Provider provider, std::string_view account_url,
                                   std::string_view repo);

// The repository path of a clone URL, without host and ".git": https://host/owner/name.git ->
// "owner/name"; git@host:owner/name.git -> "owner/name"; https://bb/scm/KEY/slug.git ->
// "scm/KEY/slug"; Azure https://dev.azure.com/org/proj/_git/repo -> "org/proj/_git/repo".
std::string RepoPathFromUrl(std::string_view url);

// Bitbucket Server's HTTPS clone URLs put "scm/" (after any context path) before "KEY/slug",
// which its REST API and payloads do not: "scm/KEY/slug" and "bitbucket/scm/KEY/slug" ->
// "KEY/slug"; an SSH path ("KEY/slug") is returned as it is.
std::string BitbucketServerRepoPath(std::string_view repo_path);

// The provider's web pages of a commit and of a branch, from the repository's clone URL
// (HTTPS, ssh:// or scp-like; user info is dropped, and an SSH remote's pages are https:// on
// its host without the SSH port). Empty for plain Git, file:// remotes, a commit that is not
// hex, and URLs whose shape does not fit the provider.
//   github            https://HOST/OWNER/REPO/commit/SHA          .../tree/BRANCH
//   gitlab            https://HOST/GROUP/../REPO/-/commit/SHA     .../-/tree/BRANCH
//   bitbucket-cloud   https://HOST/WORKSPACE/REPO/commits/SHA     .../branch/BRANCH
//   bitbucket-server  https://HOST[/CONTEXT]/projects/KEY/repos/SLUG/commits/SHA
//                     .../browse?at=refs%2Fheads%2FBRANCH  (a ~USER repo: /users/USER/repos/SLUG)
//   azure-repos       https://dev.azure.com/ORG/PROJECT/_git/REPO/commit/SHA   ...?version=GBBRANCH
std::string CommitWebUrl(Provider provider, std::string_view clone_url, std::string_view commit);
std::string BranchWebUrl(Provider provider, std::string_view clone_url, std::string_view branch);

}  // namespace gitsyncd
