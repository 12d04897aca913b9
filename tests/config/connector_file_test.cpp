// A connector file written by ConnectorFileText (what `gitsyncd import` writes) reads back as
// the same connector, whatever its strings hold.
#include <boost/test/unit_test.hpp>

#include "config/connector_file.h"
#include "tests/config/config_test_util.h"

namespace gitsyncd {
namespace {

using testing::LoadConnector;

// Loads `yaml`, writes it back and loads the text written: both must be the same connector.
std::pair<ConnectorConfig, ConnectorConfig> RoundTrip(const std::string& yaml, std::string* written = nullptr) {
  auto first = LoadConnector(yaml);
  BOOST_TEST_REQUIRE(first.errors.empty(), (first.errors.empty() ? "" : first.errors[0]));
  const ConnectorConfig& c = first.result.config.connectors.at(0);
  std::string text = ConnectorFileText(c, "Imported by a test.\nSecond line: # not a key");
  if (written) *written = text;
  auto second = LoadConnector(text);
  BOOST_TEST_REQUIRE(second.errors.empty(), (second.errors.empty() ? "" : second.errors[0] + "\n" + text));
  return {c, second.result.config.connectors.at(0)};
}

void ExpectSameConnector(const ConnectorConfig& a, const ConnectorConfig& b) {
  BOOST_TEST(a.name == b.name);
  BOOST_TEST(static_cast<int>(a.provider) == static_cast<int>(b.provider));
  BOOST_TEST(static_cast<int>(a.url_type) == static_cast<int>(b.url_type));
  BOOST_TEST(a.url == b.url);
  BOOST_TEST(a.branch == b.branch);
  BOOST_TEST(a.auth.username == b.auth.username);
  BOOST_TEST(a.auth.password.value == b.auth.password.value);
  BOOST_TEST(a.auth.known_hosts == b.auth.known_hosts);
  BOOST_TEST(a.api.token.value == b.api.token.value);
  BOOST_TEST(a.api.url == b.api.url);
  BOOST_TEST(a.commit_author.name == b.commit_author.name);
  BOOST_TEST(a.commit_author.email == b.commit_author.email);
  BOOST_TEST(a.webhook.enabled == b.webhook.enabled);
  BOOST_TEST(a.webhook.secret.value == b.webhook.secret.value);
  BOOST_TEST(a.webhook.poll_interval.count() == b.webhook.poll_interval.count());
  BOOST_TEST(a.report_status == b.report_status);
  BOOST_TEST(a.ignore == b.ignore, boost::test_tools::per_element());
  BOOST_TEST(a.commit_message == b.commit_message);
  BOOST_TEST(a.delegate_selectors == b.delegate_selectors, boost::test_tools::per_element());
  BOOST_TEST(a.hooks.validate_remote.command == b.hooks.validate_remote.command, boost::test_tools::per_element());
  BOOST_TEST(a.hooks.validate_remote.timeout.count() == b.hooks.validate_remote.timeout.count());
  BOOST_TEST_REQUIRE(a.syncs.size() == b.syncs.size());
  for (size_t i = 0; i < a.syncs.size(); ++i) {
    const SyncBinding &s = a.syncs[i], &t = b.syncs[i];
    BOOST_TEST(s.name == t.name);
    BOOST_TEST(s.branch == t.branch);
    BOOST_TEST(s.path == t.path);
    BOOST_TEST(s.local == t.local);
    BOOST_TEST(static_cast<int>(s.direction) == static_cast<int>(t.direction));
    BOOST_TEST(static_cast<int>(s.on_conflict) == static_cast<int>(t.on_conflict));
    BOOST_TEST(s.poll_interval.count() == t.poll_interval.count());
    BOOST_TEST(s.file_mode == t.file_mode);
    BOOST_TEST(s.dir_mode == t.dir_mode);
    BOOST_TEST(s.exclusive == t.exclusive);
    BOOST_TEST(s.ignore_rules == t.ignore_rules, boost::test_tools::per_element());
    BOOST_TEST(s.commit_message == t.commit_message);
  }
}

BOOST_AUTO_TEST_CASE(a_written_connector_reads_back_as_the_same_connector) {
  std::string written;
  auto [a, b] = RoundTrip(
      "name: Team configs\n"
      "provider: gitlab\n"
      "url: https://gitlab.example.com/acme/configs.git\n"
      "branch: release/2026\n"
      "auth: {username: bot, password: {secret: gl-token}}\n"
      "api: {token: {env: GL_API_TOKEN}, url: \"https://gitlab.example.com/api/v4\"}\n"
      "commit_author: {name: \"Ops: \\\"bot\\\" #1\", email: ops+bot@example.com}\n"
      "webhook: {enabled: true, secret: {file: /etc/gitsyncd/hook.secret}, poll_interval: 15m}\n"
      "report_status: true\n"
      "ignore: ['*.swp', '!keep.swp', '\\# literal']\n"
      "commit_message: \"sync {binding}: {files}\"\n"
      "delegate_selectors: [eu, prod]\n"
      "hooks: {validate_remote: {command: [sh, -c, 'test -f \"$1\" && echo ok: yes'], timeout: 30s}}\n"
      "syncs:\n"
      "  - {name: app, path: apps/app, local: /srv/app, direction: pull, on_conflict: prefer-remote,\n"
      "     poll_interval: 1m, file_mode: '0640', dir_mode: '0750', exclusive: true}\n"
      "  - {name: 'odd name.v2', branch: other, local: '/srv/with space', direction: push}\n",
      &written);
  ExpectSameConnector(a, b);
  BOOST_TEST(written.rfind("# Imported by a test.\n# Second line: # not a key\n", 0) == 0, written);
  // Secrets are written as references, never resolved.
  BOOST_TEST(written.find("gl-token") != std::string::npos);
  BOOST_TEST(written.find("GL_API_TOKEN") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_written_ssh_connector_keeps_its_key_and_known_hosts) {
  auto [a, b] = RoundTrip(
      "name: ssh configs\n"
      "provider: git\n"
      "url: ssh://deploy@git.example.com:2222/srv/configs.git\n"
      "auth: {ssh_key: {secret: deploy-key}, known_hosts: /etc/gitsyncd/known_hosts}\n"
      "syncs: [{name: etc, local: /etc/app}]\n");
  ExpectSameConnector(a, b);
  BOOST_TEST(b.auth.ssh_key.value == "deploy-key");
}

}  // namespace
}  // namespace gitsyncd
