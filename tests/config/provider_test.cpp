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
