// URL classification and account-URL composition, per provider and per URL form.
#include <boost/test/unit_test.hpp>

#include "config/provider.h"

using namespace gitsyncd;

namespace {
std::string Compose(Provider p, const std::string& account, const std::string& repo) {
  auto r = ComposeRepoUrl(p, account, repo);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(provider_urls)

BOOST_AUTO_TEST_CASE(github_https_and_ssh) {
  BOOST_TEST(Compose(Provider::kGitHub, "https://github.com/acme", "cfg") == "https://github.com/acme/cfg.git");
  BOOST_TEST(Compose(Provider::kGitHub, "https://github.com/acme/", "cfg.git") == "https://github.com/acme/cfg.git");
  BOOST_TEST(Compose(Provider::kGitHub, "git@github.com:acme", "cfg") == "git@github.com:acme/cfg.git");
  BOOST_TEST(Compose(Provider::kGitHub, "https://ghe.acme.example/org", "cfg") == "https://ghe.acme.example/org/cfg.git");
}

BOOST_AUTO_TEST_CASE(gitlab_https_and_ssh_with_subgroups) {
  BOOST_TEST(Compose(Provider::kGitLab, "https://gitlab.com/acme/infra", "dns") == "https://gitlab.com/acme/infra/dns.git");
  BOOST_TEST(Compose(Provider::kGitLab, "git@gitlab.com:acme/infra", "dns") == "git@gitlab.com:acme/infra/dns.git");
}

BOOST_AUTO_TEST_CASE(bitbucket_cloud_https_and_ssh) {
  BOOST_TEST(Compose(Provider::kBitbucketCloud, "https://bitbucket.org/workspace", "repo") ==
             "https://bitbucket.org/workspace/repo.git");
  BOOST_TEST(Compose(Provider::kBitbucketCloud, "git@bitbucket.org:workspace", "repo") ==
             "git@bitbucket.org:workspace/repo.git");
}

BOOST_AUTO_TEST_CASE(bitbucket_server_https_and_ssh) {
  BOOST_TEST(Compose(Provider::kBitbucketServer, "https://bb.acme.example/scm/OPS", "edge") ==
             "https://bb.acme.example/scm/OPS/edge.git");
  BOOST_TEST(Compose(Provider::kBitbucketServer, "ssh://git@bb.acme.example:7999/ops", "edge") ==
             "ssh://git@bb.acme.example:7999/ops/edge.git");
}

BOOST_AUTO_TEST_CASE(azure_repos_project_url_uses_underscore_git) {
  BOOST_TEST(Compose(Provider::kAzureRepos, "https://dev.azure.com/org/proj", "cfg") ==
             "https://dev.azure.com/org/proj/_git/cfg");
  BOOST_TEST(Compose(Provider::kAzureRepos, "https://dev.azure.com/org/proj/", "cfg.git") ==
             "https://dev.azure.com/org/proj/_git/cfg");
  BOOST_TEST(Compose(Provider::kAzureRepos, "git@ssh.dev.azure.com:v3/org/proj", "cfg") ==
             "git@ssh.dev.azure.com:v3/org/proj/cfg");
}

BOOST_AUTO_TEST_CASE(plain_git_account_url) {
  BOOST_TEST(Compose(Provider::kGit, "ssh://git@git.acme.example/srv/git", "cfg") ==
             "ssh://git@git.acme.example/srv/git/cfg.git");
}

BOOST_AUTO_TEST_CASE(repo_names_that_escape_are_refused) {
  auto r = ComposeRepoUrl(Provider::kGitHub, "https://github.com/acme", "../other");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message() == "repository name '../other' is not a plain name");
}

BOOST_AUTO_TEST_CASE(url_schemes_are_classified) {
  BOOST_TEST((*ClassifyUrl("https://h/x") == UrlScheme::kHttps));
  BOOST_TEST((*ClassifyUrl("ssh://git@h:22/x") == UrlScheme::kSsh));
  BOOST_TEST((*ClassifyUrl("git@h:x.git") == UrlScheme::kSsh));
  BOOST_TEST((*ClassifyUrl("file:///srv/git/x.git") == UrlScheme::kFile));
  BOOST_TEST(ClassifyUrl("http://h/x").status().message() ==
             "http:// is not allowed: credentials would travel in clear text; use https:// or ssh://");
  BOOST_TEST(ClassifyUrl("ftp://h/x").status().message() ==
             "unsupported URL scheme; use https://, ssh:// or git@host:path");
  BOOST_TEST(ClassifyUrl("/srv/git/x").status().message() ==
             "not a remote URL; use https://host/..., ssh://host/... or git@host:path");
  BOOST_TEST(ClassifyUrl("https://h/a b").status().message() == "URL contains a space or control character");
}

BOOST_AUTO_TEST_CASE(provider_names_round_trip) {
  for (auto p = AllProviderNames(); *p; ++p) {
    auto parsed = ParseProvider(*p);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(ProviderName(*parsed) == *p);
  }
  BOOST_TEST(!ParseProvider("GitHub").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// The links of the status page: what an operator clicks to see a conflict's commit and branch.
BOOST_AUTO_TEST_SUITE(provider_web_pages)

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

BOOST_AUTO_TEST_CASE(github_pages_from_https_and_ssh_remotes) {
  BOOST_TEST(CommitWebUrl(Provider::kGitHub, "https://x-access-token@github.com/acme/cfg.git", kSha) ==
             "https://github.com/acme/cfg/commit/" + kSha);
  BOOST_TEST(BranchWebUrl(Provider::kGitHub, "git@github.com:acme/cfg.git", "gitsyncd/conflicts/app/20261129T101010Z") ==
             "https://github.com/acme/cfg/tree/gitsyncd/conflicts/app/20261129T101010Z");
  BOOST_TEST(BranchWebUrl(Provider::kGitHub, "https://ghe.acme.example:8443/org/cfg", "main") ==
             "https://ghe.acme.example:8443/org/cfg/tree/main");
}

BOOST_AUTO_TEST_CASE(gitlab_pages_keep_subgroups) {
  BOOST_TEST(CommitWebUrl(Provider::kGitLab, "https://gitlab.com/acme/infra/dns.git", kSha) ==
             "https://gitlab.com/acme/infra/dns/-/commit/" + kSha);
  BOOST_TEST(BranchWebUrl(Provider::kGitLab, "ssh://git@gitlab.acme.example:2222/acme/infra/dns.git", "main") ==
             "https://gitlab.acme.example/acme/infra/dns/-/tree/main");
}

BOOST_AUTO_TEST_CASE(bitbucket_cloud_pages) {
  BOOST_TEST(CommitWebUrl(Provider::kBitbucketCloud, "https://user@bitbucket.org/workspace/repo.git", kSha) ==
             "https://bitbucket.org/workspace/repo/commits/" + kSha);
  BOOST_TEST(BranchWebUrl(Provider::kBitbucketCloud, "git@bitbucket.org:workspace/repo.git", "feature/x") ==
             "https://bitbucket.org/workspace/repo/branch/feature/x");
}

BOOST_AUTO_TEST_CASE(bitbucket_server_pages_from_scm_paths_contexts_ssh_and_personal_repos) {
  BOOST_TEST(CommitWebUrl(Provider::kBitbucketServer, "https://bb.acme.example/scm/OPS/edge.git", kSha) ==
             "https://bb.acme.example/projects/OPS/repos/edge/commits/" + kSha);
  BOOST_TEST(BranchWebUrl(Provider::kBitbucketServer, "https://bb.acme.example/bitbucket/scm/OPS/edge.git", "feature/x") ==
             "https://bb.acme.example/bitbucket/projects/OPS/repos/edge/browse?at=refs%2Fheads%2Ffeature%2Fx");
  BOOST_TEST(CommitWebUrl(Provider::kBitbucketServer, "ssh://git@bb.acme.example:7999/ops/edge.git", kSha) ==
             "https://bb.acme.example/projects/ops/repos/edge/commits/" + kSha);
  BOOST_TEST(CommitWebUrl(Provider::kBitbucketServer, "https://bb.acme.example/scm/~jane/notes.git", kSha) ==
             "https://bb.acme.example/users/jane/repos/notes/commits/" + kSha);
}

BOOST_AUTO_TEST_CASE(azure_repos_pages_from_https_and_ssh) {
  BOOST_TEST(CommitWebUrl(Provider::kAzureRepos, "https://acme@dev.azure.com/acme/Infra/_git/dns", kSha) ==
             "https://dev.azure.com/acme/Infra/_git/dns/commit/" + kSha);
  BOOST_TEST(BranchWebUrl(Provider::kAzureRepos, "git@ssh.dev.azure.com:v3/acme/Infra/dns", "feature/x") ==
             "https://dev.azure.com/acme/Infra/_git/dns?version=GBfeature%2Fx");
}

BOOST_AUTO_TEST_CASE(no_page_for_plain_git_file_remotes_or_hostile_values) {
  BOOST_TEST(CommitWebUrl(Provider::kGit, "https://git.acme.example/cfg.git", kSha).empty());
  BOOST_TEST(BranchWebUrl(Provider::kGitHub, "file:///srv/git/cfg.git", "main").empty());
  BOOST_TEST(CommitWebUrl(Provider::kGitHub, "https://github.com/acme/cfg.git", "javascript:alert(1)").empty());
  // A branch name is encoded, never taken as markup or as another query parameter.
  BOOST_TEST(BranchWebUrl(Provider::kGitHub, "https://github.com/acme/cfg.git", "x/<img src=y>?a=\"b\"") ==
             "https://github.com/acme/cfg/tree/x/%3Cimg%20src%3Dy%3E%3Fa%3D%22b%22");
  BOOST_TEST(BranchWebUrl(Provider::kBitbucketServer, "https://bb.acme.example/OPS/x/y/edge.git", "main").empty());
}

BOOST_AUTO_TEST_SUITE_END()
