// Config validation: each rule a user can break, with the exact message they see.
#include <boost/test/unit_test.hpp>

#include "config/ignore_rules.h"
#include "tests/config/config_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  BOOST_REQUIRE_MESSAGE(p != std::string::npos, "test bug: '" + from + "' not in text");
  return s.replace(p, from.size(), to);
}

void ExpectErrors(const LoadedConfig& c, const std::vector<std::string>& expected) {
  BOOST_TEST(c.errors == expected, boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_loader)

BOOST_AUTO_TEST_CASE(valid_connector_loads_with_defaults) {
  auto c = LoadConnector(kValidConnector);
  ExpectErrors(c, {});
  BOOST_REQUIRE_EQUAL(c.result.config.connectors.size(), 1u);
  const auto& con = c.result.config.connectors[0];
  BOOST_TEST(con.name == "Team configs");
  BOOST_TEST(con.branch == "main");
  BOOST_TEST((con.url_type == UrlType::kRepo));
  BOOST_TEST(con.commit_author.name == "gitsyncd");
  BOOST_TEST((con.auth.password.kind == SecretRef::Kind::kStore));
  BOOST_TEST(con.auth.password.value == "gh-token");
  BOOST_REQUIRE_EQUAL(con.syncs.size(), 1u);
  const auto& s = con.syncs[0];
  BOOST_TEST(s.branch == "main");
  BOOST_TEST(s.path == "apps/app");
  BOOST_TEST(s.local == "/srv/app");
  BOOST_TEST(s.remote_url == "https://github.com/acme/configs.git");
  BOOST_TEST((s.direction == SyncDirection::kBidirectional));
  BOOST_TEST((s.on_conflict == ConflictPolicy::kKeepBoth));
}

BOOST_AUTO_TEST_CASE(file_and_dir_modes_default_to_0644_0755_and_are_checked) {
  auto plain = LoadConnector(kValidConnector);
  BOOST_REQUIRE_EQUAL(plain.result.config.connectors.size(), 1u);
  BOOST_TEST(plain.result.config.connectors[0].syncs[0].file_mode == 0644u);
  BOOST_TEST(plain.result.config.connectors[0].syncs[0].dir_mode == 0755u);
  BOOST_TEST(plain.result.config.connectors[0].syncs[0].gid == -1);
  auto set = LoadConnector(std::string(kValidConnector) + "    file_mode: \"0640\"\n    dir_mode: \"0750\"\n    group: root\n");
  ExpectErrors(set, {});
  BOOST_TEST(set.result.config.connectors[0].syncs[0].file_mode == 0640u);
  BOOST_TEST(set.result.config.connectors[0].syncs[0].dir_mode == 0750u);
  BOOST_TEST(set.result.config.connectors[0].syncs[0].gid == 0);
  auto bad = LoadConnector(std::string(kValidConnector) +
                           "    file_mode: \"0440\"\n    dir_mode: \"0999\"\n    group: no-such-group-gitsyncd\n");
  ExpectErrors(bad, {"connectors.d/c.yaml:11:16: syncs[0].file_mode: must be an octal mode up to 0777 that keeps the "
                     "owner's 0600 bits, found '0440'",
                     "connectors.d/c.yaml:12:15: syncs[0].dir_mode: must be an octal mode up to 0777 that keeps the "
                     "owner's 0700 bits, found '0999'",
                     "connectors.d/c.yaml:13:12: syncs[0].group: no group 'no-such-group-gitsyncd' on this host"});
}

BOOST_AUTO_TEST_CASE(unknown_key_suggests_the_close_one) {
  auto c = LoadConnector(Replace(kValidConnector, "provider:", "provder:"));
  ExpectErrors(c, {"connectors.d/c.yaml:1:1: provider: required key is missing",
                   "connectors.d/c.yaml:2:1: provder: unknown key 'provder' (did you mean 'provider'?)"});
}

BOOST_AUTO_TEST_CASE(unknown_nested_key_names_its_path) {
  auto c = LoadConnector(Replace(kValidConnector, "    local:", "    brnch: dev\n    local:"));
  ExpectErrors(c, {"connectors.d/c.yaml:10:5: syncs[0].brnch: unknown key 'brnch' (did you mean 'branch'?)"});
}

BOOST_AUTO_TEST_CASE(unknown_key_without_close_match_has_no_hint) {
  auto c = LoadConnector(std::string(kValidConnector) + "colour: blue\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:1: colour: unknown key 'colour'"});
}

BOOST_AUTO_TEST_CASE(missing_name_is_reported) {
  auto c = LoadConnector(Replace(kValidConnector, "name: Team configs\n", ""));
  ExpectErrors(c, {"connectors.d/c.yaml:1:1: name: required key is missing"});
}

BOOST_AUTO_TEST_CASE(name_with_emoticon_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "Team configs", "Team \xF0\x9F\x98\x80 configs"));
  ExpectErrors(c, {"connectors.d/c.yaml:1:7: name: name 'Team \xF0\x9F\x98\x80 configs' contains U+1F600 from "
                   "the Emoticons block; emoji are not allowed in names"});
}

BOOST_AUTO_TEST_CASE(name_with_forbidden_character_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "Team configs", "Team/configs"));
  ExpectErrors(c, {"connectors.d/c.yaml:1:7: name: name 'Team/configs' contains '/'; only letters, digits, "
                   "space, '_', '-' and '.' are allowed"});
}

BOOST_AUTO_TEST_CASE(name_with_non_ascii_letters_is_accepted) {
  auto c = LoadConnector(Replace(kValidConnector, "Team configs", "\xC3\x89quipe Z\xC3\xBCrich"));
  ExpectErrors(c, {});
}

BOOST_AUTO_TEST_CASE(unknown_provider_lists_the_choices) {
  auto c = LoadConnector(Replace(kValidConnector, "provider: github", "provider: gitea"));
  ExpectErrors(c, {"connectors.d/c.yaml:2:11: provider: 'gitea' is not one of 'github', 'bitbucket-cloud', "
                   "'bitbucket-server', 'gitlab', 'azure-repos' or 'git'"});
}

BOOST_AUTO_TEST_CASE(http_url_is_refused_because_of_clear_text) {
  auto c = LoadConnector(Replace(kValidConnector, "https://github.com", "http://github.com"));
  ExpectErrors(c, {"connectors.d/c.yaml:3:6: url: 'http://github.com/acme/configs.git': http:// is not "
                   "allowed: credentials would travel in clear text; use https:// or ssh://"});
}

// A token pasted into the URL would be echoed by every log line and error naming the remote.
BOOST_AUTO_TEST_CASE(credentials_in_the_url_are_refused_without_echoing_them) {
  const std::string hint = "credentials in the URL are not allowed (they would show in logs, `status` and error "
                           "messages); put the user in auth.username and the password or token in auth.password, "
                           "e.g. password: {secret: NAME}";
  for (std::string url : {"https://bot:ghp_S3cretToken@github.com/acme/configs.git",
                          "https://ghp_S3cretToken@github.com/acme/configs.git",
                          "http://bot:ghp_S3cretToken@github.com/acme/configs.git",
                          "ssh://git:ghp_S3cretToken@github.com/acme/configs.git"}) {
    auto c = LoadConnector(Replace(kValidConnector, "https://github.com/acme/configs.git", url));
    ExpectErrors(c, {"connectors.d/c.yaml:3:6: url: " + hint});
    for (const auto& e : c.errors) BOOST_TEST(e.find("S3cret") == std::string::npos, e);
  }
  // A user name alone in an SSH URL is not a secret.
  auto ssh = LoadConnector(
      "name: edge\nprovider: git\nurl: ssh://git@example.com/acme/configs.git\nauth:\n  ssh_key: {secret: k}\n"
      "  known_hosts: /etc/gitsyncd/known_hosts\nsyncs:\n  - name: app\n    local: /srv/app\n");
  ExpectErrors(ssh, {});
}

BOOST_AUTO_TEST_CASE(io_timeout_and_workers_per_remote_are_read_and_bounded) {
  auto ok = LoadConnectors({{"c.yaml", kValidConnector}},
                           "state_dir: /var/lib/gitsyncd-test\nio_timeout: 45s\nworkers_per_remote: 3\n");
  ExpectErrors(ok, {});
  BOOST_TEST(ok.result.config.daemon.io_timeout.count() == 45);
  BOOST_TEST(ok.result.config.daemon.workers_per_remote == 3u);
  auto defaults = LoadConnector(kValidConnector);
  BOOST_TEST(defaults.result.config.daemon.io_timeout.count() == 30);
  auto bad = LoadConnectors({{"c.yaml", kValidConnector}}, "state_dir: /var/lib/gitsyncd-test\nio_timeout: 0s\n");
  ExpectErrors(bad, {"gitsyncd.yaml:2:13: io_timeout: must be between 1s and 30m"});
}

BOOST_AUTO_TEST_CASE(import_roots_are_absolute_folders_other_than_root) {
  auto ok = LoadConnectors({{"c.yaml", kValidConnector}},
                           "state_dir: /var/lib/gitsyncd-test\nimport_roots: [/srv/config/, /srv/other/../more]\n");
  ExpectErrors(ok, {});
  BOOST_TEST(ok.result.config.daemon.import_roots == (std::vector<std::string>{"/srv/config", "/srv/more"}));
  auto bad = LoadConnectors({{"c.yaml", kValidConnector}},
                            "state_dir: /var/lib/gitsyncd-test\nimport_roots: [srv, /]\n");
  ExpectErrors(bad, {"gitsyncd.yaml:2:16: import_roots[0]: must be an absolute path",
                     "gitsyncd.yaml:2:21: import_roots[1]: must not be /"});
}

BOOST_AUTO_TEST_CASE(url_that_is_not_remote_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "https://github.com/acme/configs.git", "configs"));
  ExpectErrors(c, {"connectors.d/c.yaml:3:6: url: 'configs': not a remote URL; use https://host/..., "
                   "ssh://host/... or git@host:path"});
}

BOOST_AUTO_TEST_CASE(invalid_branch_is_refused) {
  auto c = LoadConnector(std::string(kValidConnector) + "branch: feature..x\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:9: branch: branch 'feature..x' must not contain '..'"});
}

BOOST_AUTO_TEST_CASE(branch_with_emoticon_is_refused) {
  auto c = LoadConnector(std::string(kValidConnector) + "branch: \"rel-\xF0\x9F\x99\x82\"\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:9: branch: branch 'rel-\xF0\x9F\x99\x82' contains U+1F642 from the "
                   "Emoticons block"});
}

BOOST_AUTO_TEST_CASE(plain_string_secret_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "{secret: gh-token}", "hunter2"));
  ExpectErrors(c, {"connectors.d/c.yaml:6:13: auth.password: secret values never appear in YAML; use "
                   "{secret: NAME}, {file: PATH} or {env: VAR}"});
}

BOOST_AUTO_TEST_CASE(secret_reference_needs_exactly_one_kind) {
  auto c = LoadConnector(Replace(kValidConnector, "{secret: gh-token}", "{secret: a, env: B}"));
  ExpectErrors(c, {"connectors.d/c.yaml:6:13: auth.password: give exactly one of secret:, file: or env:"});
}

BOOST_AUTO_TEST_CASE(ssh_url_with_password_is_refused) {
  auto c = LoadConnector(
      "name: x\nprovider: git\nurl: git@git.example.com:acme/x.git\nauth:\n  password: {env: P}\n"
      "  known_hosts: /etc/gitsyncd/known_hosts\n");
  ExpectErrors(c, {"connectors.d/c.yaml:4:1: auth.ssh_key: an SSH URL needs auth.ssh_key",
                   "connectors.d/c.yaml:5:13: auth.password: an SSH URL authenticates with auth.ssh_key, not a "
                   "password"});
}

BOOST_AUTO_TEST_CASE(https_url_with_ssh_key_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "password: {secret: gh-token}", "ssh_key: {secret: k}"));
  ExpectErrors(c, {"connectors.d/c.yaml:6:12: auth.ssh_key: an HTTPS URL authenticates with auth.password "
                   "(a password or token), not an SSH key"});
}

BOOST_AUTO_TEST_CASE(ssh_url_needs_known_hosts) {
  auto c = LoadConnector("name: x\nprovider: git\nurl: ssh://git.example.com/x.git\nauth:\n  ssh_key: {env: K}\n");
  ExpectErrors(c, {"connectors.d/c.yaml:4:1: auth.known_hosts: an SSH URL needs auth.known_hosts, so the "
                   "server's host key can be checked"});
}

BOOST_AUTO_TEST_CASE(ssh_user_defaults_to_git_or_the_url_user) {
  auto c = LoadConnectors(
      {{"a.yaml", "name: a\nprovider: git\nurl: ssh://host.example/x.git\nauth:\n  ssh_key: {env: K}\n"
                  "  known_hosts: /k\n"},
       {"b.yaml", "name: b\nprovider: git\nurl: deploy@host.example:x.git\nauth:\n  ssh_key: {env: K}\n"
                  "  known_hosts: /k\n"}});
  ExpectErrors(c, {});
  BOOST_TEST(c.result.config.connectors[0].auth.username == "git");
  BOOST_TEST(c.result.config.connectors[1].auth.username == "deploy");
}

BOOST_AUTO_TEST_CASE(fetch_api_requires_a_token) {
  auto c = LoadConnector(std::string(kValidConnector) + "    direction: pull\nfetch: api\n");
  ExpectErrors(c, {"connectors.d/c.yaml:12:8: fetch: fetch: api needs api.token (token auth only; a password "
                   "cannot be used)"});
}

BOOST_AUTO_TEST_CASE(fetch_api_bindings_may_write_back) {
  // Writing back goes through the provider's commit API: push and bidirectional are accepted.
  auto c = LoadConnector(std::string(kValidConnector) + "    direction: push\napi:\n  token: {env: T}\nfetch: api\n");
  ExpectErrors(c, {});
  BOOST_TEST((c.result.config.connectors[0].syncs[0].direction == SyncDirection::kPush));
  auto both = LoadConnector(std::string(kValidConnector) + "api:\n  token: {env: T}\nfetch: api\n");
  ExpectErrors(both, {});
  BOOST_TEST((both.result.config.connectors[0].syncs[0].direction == SyncDirection::kBidirectional));
}

BOOST_AUTO_TEST_CASE(fetch_api_is_not_for_plain_git) {
  auto c = LoadConnector(Replace(kValidConnector, "provider: github", "provider: git") +
                         "    direction: pull\napi:\n  token: {env: T}\nfetch: api\n");
  ExpectErrors(c, {"connectors.d/c.yaml:14:8: fetch: fetch: api needs a provider REST API; provider 'git' has "
                   "none"});
}

BOOST_AUTO_TEST_CASE(account_url_requires_repo_in_each_sync) {
  auto c = LoadConnector(Replace(Replace(kValidConnector, "url: https://github.com/acme/configs.git",
                                         "url_type: account\nurl: https://github.com/acme"),
                                 "", ""));
  ExpectErrors(c, {"connectors.d/c.yaml:9:5: syncs[0].repo: required for a connector with url_type: account"});
}

BOOST_AUTO_TEST_CASE(repo_url_forbids_repo_in_a_sync) {
  auto c = LoadConnector(Replace(kValidConnector, "    path:", "    repo: other\n    path:"));
  ExpectErrors(c, {"connectors.d/c.yaml:9:11: syncs[0].repo: not allowed for a connector with url_type: repo "
                   "(its url already names the repository)"});
}

BOOST_AUTO_TEST_CASE(account_url_composes_the_repo_url) {
  auto c = LoadConnector(Replace(Replace(kValidConnector, "url: https://github.com/acme/configs.git",
                                         "url_type: account\nurl: https://github.com/acme/"),
                                 "    path:", "    repo: payments\n    branch: prod\n    path:"));
  ExpectErrors(c, {});
  const auto& s = c.result.config.connectors[0].syncs[0];
  BOOST_TEST(s.remote_url == "https://github.com/acme/payments.git");
  BOOST_TEST(s.branch == "prod");
}

BOOST_AUTO_TEST_CASE(test_repo_only_for_account_urls) {
  auto c = LoadConnector(std::string(kValidConnector) + "test_repo: x\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:12: test_repo: only used with url_type: account"});
}

BOOST_AUTO_TEST_CASE(bad_commit_email_is_refused) {
  auto c = LoadConnector(std::string(kValidConnector) + "commit_author:\n  email: not-an-email\n");
  ExpectErrors(c, {"connectors.d/c.yaml:12:10: commit_author.email: 'not-an-email' is not an email address"});
}

BOOST_AUTO_TEST_CASE(relative_local_folder_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "local: /srv/app", "local: srv/app"));
  ExpectErrors(c, {"connectors.d/c.yaml:10:12: syncs[0].local: must be an absolute path, found 'srv/app'"});
}

BOOST_AUTO_TEST_CASE(path_escaping_the_repo_is_refused) {
  auto c = LoadConnector(Replace(kValidConnector, "path: apps/app", "path: apps/../../etc"));
  ExpectErrors(c, {"connectors.d/c.yaml:9:11: syncs[0].path: must stay inside the repository (no '..')"});
}

BOOST_AUTO_TEST_CASE(path_is_normalised) {
  auto c = LoadConnector(Replace(kValidConnector, "path: apps/app", "path: ./apps//app/"));
  ExpectErrors(c, {});
  BOOST_TEST(c.result.config.connectors[0].syncs[0].path == "apps/app");
}

BOOST_AUTO_TEST_CASE(bad_direction_lists_the_choices) {
  auto c = LoadConnector(Replace(kValidConnector, "    local:", "    direction: both\n    local:"));
  ExpectErrors(c, {"connectors.d/c.yaml:10:16: syncs[0].direction: 'both' is not one of 'push', 'pull' or "
                   "'bidirectional'"});
}

BOOST_AUTO_TEST_CASE(poll_interval_accepts_units_and_refuses_too_short) {
  auto ok = LoadConnector(Replace(kValidConnector, "    local:", "    poll_interval: 5m\n    local:"));
  ExpectErrors(ok, {});
  BOOST_TEST(ok.result.config.connectors[0].syncs[0].poll_interval.count() == 300);
  auto bad = LoadConnector(Replace(kValidConnector, "    local:", "    poll_interval: 2s\n    local:"));
  ExpectErrors(bad, {"connectors.d/c.yaml:10:20: syncs[0].poll_interval: must be at least 10s (or 0 to disable "
                     "polling)"});
  auto junk = LoadConnector(Replace(kValidConnector, "    local:", "    poll_interval: soon\n    local:"));
  ExpectErrors(junk, {"connectors.d/c.yaml:10:20: syncs[0].poll_interval: expected a duration like 30s, 5m, 1h30m, "
                      "1d or a number of seconds, found 'soon'"});
}

BOOST_AUTO_TEST_CASE(ignore_rules_merge_defaults_connector_and_sync_in_order) {
  auto c = LoadConnector(Replace(kValidConnector, "syncs:", "ignore: ['*.log']\nsyncs:") +
                         "    ignore: ['!keep.log', 'build/']\n"
                         "  - name: raw\n    path: raw\n    local: /srv/raw\n    ignore_defaults: false\n");
  ExpectErrors(c, {});
  const auto& web = c.result.config.connectors[0].syncs[0];
  const auto& raw = c.result.config.connectors[0].syncs[1];
  std::vector<std::string> want;
  for (const auto& d : DefaultIgnoreRules()) want.emplace_back(d.pattern);
  want.insert(want.end(), {"*.log", "!keep.log", "build/"});
  BOOST_TEST(web.ignore_rules == want, boost::test_tools::per_element());
  BOOST_TEST(raw.ignore_rules == std::vector<std::string>{"*.log"}, boost::test_tools::per_element());
  BOOST_TEST(!raw.ignore_defaults);
  // The connector's ignore_defaults applies unless a sync sets its own.
  auto off = LoadConnector(Replace(kValidConnector, "syncs:", "ignore_defaults: false\nsyncs:"));
  ExpectErrors(off, {});
  BOOST_TEST(off.result.config.connectors[0].syncs[0].ignore_rules.empty());
}

BOOST_AUTO_TEST_CASE(bad_ignore_rules_are_refused_naming_the_item) {
  auto c = LoadConnector(std::string(kValidConnector) + "    ignore: ['ok', '', '# note', {a: b}]\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:20: syncs[0].ignore[1]: ignore rule must not be empty",
                   "connectors.d/c.yaml:11:24: syncs[0].ignore[2]: ignore rule starts with '#', which makes it a "
                   "comment; write \\# to match a leading '#'",
                   "connectors.d/c.yaml:11:34: syncs[0].ignore[3]: ignore rule must be a string"});
  auto multi = LoadConnector(std::string(kValidConnector) + "    ignore: [\"a\\nb\"]\n");
  ExpectErrors(multi, {"connectors.d/c.yaml:11:14: syncs[0].ignore[0]: ignore rule must be one line (one rule per "
                       "list item)"});
  auto notlist = LoadConnector(Replace(kValidConnector, "syncs:", "ignore: '*.log'\nsyncs:"));
  ExpectErrors(notlist, {"connectors.d/c.yaml:7:9: ignore: expected a list of gitignore patterns"});
}

BOOST_AUTO_TEST_CASE(commit_message_templates_are_checked_naming_the_place) {
  auto ok = LoadConnector(Replace(kValidConnector, "syncs:", "commit_message: 'OPS-1 {files}'\nsyncs:") +
                          "  - name: own\n    path: own\n    local: /srv/own\n    commit_message: '{{x}} {count} on {branch}'\n");
  ExpectErrors(ok, {});
  BOOST_TEST(ok.result.config.connectors[0].syncs[0].commit_message == "OPS-1 {files}");
  BOOST_TEST(ok.result.config.connectors[0].syncs[1].commit_message == "{{x}} {count} on {branch}");
  auto plain = LoadConnector(kValidConnector);
  BOOST_TEST(plain.result.config.connectors[0].syncs[0].commit_message == "gitsyncd {binding}: {files}");
  auto bad = LoadConnector(std::string(kValidConnector) + "    commit_message: 'OPS {ticket}'\n");
  ExpectErrors(bad, {"connectors.d/c.yaml:11:21: syncs[0].commit_message: template unknown placeholder {ticket}; "
                     "the placeholders are {binding}, {connector}, {branch}, {host}, {files}, {count}"});
  auto open = LoadConnector(Replace(kValidConnector, "syncs:", "commit_message: 'x {files'\nsyncs:"));
  ExpectErrors(open, {"connectors.d/c.yaml:7:17: commit_message: template has a '{' that is never closed (write {{ "
                      "for a literal brace)"});
}

BOOST_AUTO_TEST_CASE(compound_durations_add_up_from_the_largest_unit_down) {
  const std::vector<std::pair<std::string, long>> cases = {
      {"1h30m", 5400}, {"2m30s", 150}, {"90s", 90}, {"1d", 86400}, {"1d2h3m4s", 93784}, {"45", 45}, {"1h0m", 3600}};
  for (const auto& [text, seconds] : cases) {
    auto c = LoadConnector(Replace(kValidConnector, "    local:", "    poll_interval: " + text + "\n    local:"));
    ExpectErrors(c, {});
    BOOST_TEST(c.result.config.connectors[0].syncs[0].poll_interval.count() == seconds, text);
  }
  auto daemon = LoadConnectors({{"c.yaml", kValidConnector}}, "state_dir: /var/lib/x\nio_timeout: 1m30s\n");
  ExpectErrors(daemon, {});
  BOOST_TEST(daemon.result.config.daemon.io_timeout.count() == 90);
}

BOOST_AUTO_TEST_CASE(malformed_durations_are_refused_naming_the_file_line_and_what_is_wrong) {
  const std::string where = "connectors.d/c.yaml:10:20: syncs[0].poll_interval: ";
  auto junk = [](const std::string& t) {
    return "expected a duration like 30s, 5m, 1h30m, 1d or a number of seconds, found '" + t + "'";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1h-5m", junk("1h-5m")},
      {"h", junk("h")},
      {"1h30", junk("1h30")},
      {"1.5h", junk("1.5h")},
      {"5 m", junk("5 m")},
      {"1w", junk("1w")},
      {"30m1h", "duration '30m1h': units go from the largest to the smallest, each once (d, h, m, s), as in 1h30m"},
      {"1h1h", "duration '1h1h': units go from the largest to the smallest, each once (d, h, m, s), as in 1h30m"},
      {"99999999999999999999s", "duration '99999999999999999999s' is too long (at most 3650d)"},
      {"3651d", "duration '3651d' is too long (at most 3650d)"},
      {"999999999d999999999h", "duration '999999999d999999999h' is too long (at most 3650d)"},
      {"99999999999", "duration '99999999999' is too long (at most 3650d)"},
  };
  for (const auto& [text, message] : cases) {
    auto c = LoadConnector(Replace(kValidConnector, "    local:", "    poll_interval: \"" + text + "\"\n    local:"));
    ExpectErrors(c, {where + message});
  }
}

// With webhooks on, a lost delivery is caught up by a safety-net poll: 5 minutes unless the
// connector's webhook.poll_interval or the binding's own poll_interval says otherwise.
BOOST_AUTO_TEST_CASE(webhook_connectors_poll_every_five_minutes_as_a_safety_net_unless_told_otherwise) {
  const std::string webhook = "syncs:";
  auto plain = LoadConnector(kValidConnector);
  BOOST_TEST(plain.result.config.connectors[0].syncs[0].poll_interval.count() == 0);
  auto hooked = LoadConnector(Replace(kValidConnector, webhook, "webhook:\n  enabled: true\nsyncs:"));
  ExpectErrors(hooked, {});
  BOOST_TEST(hooked.result.config.connectors[0].syncs[0].poll_interval.count() == 300);
  auto changed = LoadConnector(Replace(kValidConnector, webhook, "webhook:\n  enabled: true\n  poll_interval: 1h\nsyncs:"));
  ExpectErrors(changed, {});
  BOOST_TEST(changed.result.config.connectors[0].syncs[0].poll_interval.count() == 3600);
  auto off = LoadConnector(Replace(kValidConnector, webhook, "webhook:\n  enabled: true\n  poll_interval: 0\nsyncs:"));
  ExpectErrors(off, {});
  BOOST_TEST(off.result.config.connectors[0].syncs[0].poll_interval.count() == 0);
  auto own = LoadConnector(Replace(Replace(kValidConnector, webhook, "webhook:\n  enabled: true\nsyncs:"), "    local:",
                                   "    poll_interval: 30s\n    local:"));
  ExpectErrors(own, {});
  BOOST_TEST(own.result.config.connectors[0].syncs[0].poll_interval.count() == 30);
  auto short_one = LoadConnector(Replace(kValidConnector, webhook, "webhook:\n  enabled: true\n  poll_interval: 5s\nsyncs:"));
  ExpectErrors(short_one, {"connectors.d/c.yaml:9:18: webhook.poll_interval: must be at least 10s (or 0 to turn the "
                           "safety-net poll off)"});
}

BOOST_AUTO_TEST_CASE(wrong_type_is_reported) {
  auto c = LoadConnector(Replace(kValidConnector, "url: https://github.com/acme/configs.git", "url: [a, b]"));
  ExpectErrors(c, {"connectors.d/c.yaml:3:6: url: expected a string, found a list"});
}

BOOST_AUTO_TEST_CASE(duplicate_key_is_reported) {
  auto c = LoadConnector(std::string(kValidConnector) + "branch: a\nbranch: b\n");
  ExpectErrors(c, {"connectors.d/c.yaml:12:1: branch: duplicate key"});
}

BOOST_AUTO_TEST_CASE(yaml_syntax_error_has_line_and_column) {
  auto c = LoadConnector("name: x\nprovider: [github\n");
  BOOST_REQUIRE_EQUAL(c.errors.size(), 1u);
  BOOST_TEST(c.errors[0].rfind("connectors.d/c.yaml:3:1: YAML syntax error: ", 0) == 0, c.errors[0]);
}

BOOST_AUTO_TEST_CASE(empty_file_is_reported) {
  auto c = LoadConnector("");
  ExpectErrors(c, {"connectors.d/c.yaml: file is empty; expected a connector"});
}

BOOST_AUTO_TEST_CASE(connector_names_must_be_unique_ignoring_case) {
  auto c = LoadConnectors({{"a.yaml", kValidConnector},
                           {"b.yaml", Replace(Replace(kValidConnector, "Team configs", "TEAM CONFIGS"),
                                              "name: app", "name: app2")}});
  std::vector<std::string> got = c.errors;
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[0].find("connectors.d/b.yaml:1:1: name: connector name 'TEAM CONFIGS' is already used by ") == 0);
  BOOST_TEST(got[0].ends_with("connectors.d/a.yaml"));
  BOOST_TEST(got[1].find("connectors.d/b.yaml:8:5: local: folder /srv/app already belongs to sync 'app'") == 0);
}

BOOST_AUTO_TEST_CASE(sync_names_must_be_unique_across_connectors) {
  auto c = LoadConnectors({{"a.yaml", kValidConnector},
                           {"b.yaml", Replace(Replace(kValidConnector, "Team configs", "Other"), "/srv/app", "/srv/b")}});
  ExpectErrors(c, {"connectors.d/b.yaml:8:5: name: sync name 'app' is already used at connectors.d/a.yaml:8:5"});
}

BOOST_AUTO_TEST_CASE(nested_local_folders_are_refused) {
  auto c = LoadConnector(std::string(kValidConnector) + "  - name: inner\n    local: /srv/app/inner\n");
  ExpectErrors(c, {"connectors.d/c.yaml:11:5: local: folder /srv/app/inner and folder /srv/app of sync 'app' "
                   "(connectors.d/c.yaml:8:5) are nested; synced folders must not contain each other"});
}

BOOST_AUTO_TEST_CASE(local_folder_inside_state_dir_is_refused) {
  auto c = LoadConnectors({{"c.yaml", Replace(kValidConnector, "/srv/app", "/var/lib/gitsyncd-test/app")}});
  ExpectErrors(c, {"connectors.d/c.yaml:8:5: local: folder /var/lib/gitsyncd-test/app overlaps the state "
                   "directory /var/lib/gitsyncd-test"});
}

BOOST_AUTO_TEST_CASE(daemon_settings_are_validated) {
  auto c = LoadConnectors({}, "state_dir: /var/lib/x\nlog_level: loud\nlisten:\n  port: 99999\n  max_body_bytes: 5MB\n");
  ExpectErrors(c, {"gitsyncd.yaml:2:12: log_level: 'loud' is not one of 'trace', 'debug', 'info', 'warn', "
                   "'error', 'critical' or 'off'",
                   "gitsyncd.yaml:4:9: listen.port: expected a whole number from 0 to 65535, found '99999'",
                   "gitsyncd.yaml:5:19: listen.max_body_bytes: expected a size like 5MiB, 512KiB or a number of "
                   "bytes, found '5MB'"});
}

BOOST_AUTO_TEST_CASE(listen_header_timeout_is_a_few_seconds_by_default_and_bounded) {
  auto d = LoadConnectors({}, "state_dir: /var/lib/x\nlisten:\n  port: 8080\n");
  ExpectErrors(d, {});
  BOOST_TEST(d.result.config.daemon.listen.header_timeout.count() == 5);
  auto set = LoadConnectors({}, "state_dir: /var/lib/x\nlisten:\n  header_timeout: 2s\n");
  ExpectErrors(set, {});
  BOOST_TEST(set.result.config.daemon.listen.header_timeout.count() == 2);
  auto bad = LoadConnectors({}, "state_dir: /var/lib/x\nlisten:\n  header_timeout: 5m\n");
  ExpectErrors(bad, {"gitsyncd.yaml:3:19: listen.header_timeout: must be between 1s and 60s"});
}

BOOST_AUTO_TEST_CASE(daemon_relative_paths_are_relative_to_the_config_dir) {
  TempDir dir;
  WriteFile(dir / "gitsyncd.yaml", "state_dir: state\nlisten:\n  max_body_bytes: 512KiB\n");
  auto r = LoadConfig(dir.path());
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.config.daemon.state_dir == dir.path() + "/state");
  BOOST_TEST(r.config.daemon.listen.max_body_bytes == 512u * 1024);
}

BOOST_AUTO_TEST_CASE(missing_config_dir_is_reported) {
  auto r = LoadConfig("/nonexistent/gitsyncd-config");
  BOOST_REQUIRE_EQUAL(r.errors.size(), 1u);
  BOOST_TEST(r.errors[0].ToString() ==
             "/nonexistent/gitsyncd-config: config directory does not exist or is not a directory");
}

BOOST_AUTO_TEST_CASE(editor_backups_are_ignored) {
  auto c = LoadConnectors({{"c.yaml", kValidConnector}, {".#c.yaml", "junk: ["}, {"c.yaml~", "junk: ["}});
  ExpectErrors(c, {});
  BOOST_TEST(c.result.config.connectors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(oversized_file_is_refused) {
  auto c = LoadConnector(std::string(kValidConnector) + "# " + std::string(1100 * 1024, 'x') + "\n");
  ExpectErrors(c, {"connectors.d/c.yaml: file is larger than 1 MiB; refusing to parse it"});
}

// webhook.manage registers hooks through the API: each missing piece is named where manage is.
BOOST_AUTO_TEST_CASE(managed_webhooks_need_a_token_a_secret_and_the_public_url) {
  const std::string hook = "webhook:\n  enabled: true\n  secret: {secret: hook}\n  manage: true\nsyncs:";
  auto no_token = LoadConnector(Replace(kValidConnector, "syncs:", hook));
  ExpectErrors(no_token, {"connectors.d/c.yaml:10:11: webhook.manage: it needs api.token (a token that may manage "
                          "the hooks)"});
  const std::string api = "api:\n  token: {secret: api}\n";
  auto no_secret = LoadConnector(
      Replace(kValidConnector, "syncs:", api + "webhook:\n  enabled: true\n  manage: true\nsyncs:"));
  ExpectErrors(no_secret, {"connectors.d/c.yaml:11:11: webhook.manage: it needs webhook.secret (the hook is "
                           "registered with it)"});
  auto no_public_url = LoadConnector(Replace(kValidConnector, "syncs:", api + hook));
  ExpectErrors(no_public_url, {"connectors.d/c.yaml:12:11: webhook.manage: needs listen.public_url in "
                               "gitsyncd.yaml (the address the provider delivers to; hooks are registered with it)"});
  auto fine = LoadConnectors({{"c.yaml", Replace(kValidConnector, "syncs:", api + hook)}},
                             "state_dir: /var/lib/gitsyncd-test\nlisten:\n  public_url: https://hooks.example.com\n");
  ExpectErrors(fine, {});
  BOOST_REQUIRE(fine.result.config.connectors.size() == 1u);
  BOOST_TEST(fine.result.config.connectors[0].webhook.manage);
}

BOOST_AUTO_TEST_CASE(report_status_needs_a_token_and_a_provider_api) {
  auto no_token = LoadConnector(Replace(kValidConnector, "syncs:", "report_status: true\nsyncs:"));
  ExpectErrors(no_token, {"connectors.d/c.yaml:7:16: report_status: it needs api.token (a token that may post "
                          "commit statuses)"});
  auto git = LoadConnector(Replace(Replace(kValidConnector, "provider: github", "provider: git"), "syncs:",
                                   "api:\n  token: {secret: api}\nreport_status: true\nsyncs:"));
  ExpectErrors(git, {"connectors.d/c.yaml:9:16: report_status: provider 'git' has no API for commit statuses"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(hooks_default_to_the_connectors_and_a_sync_replaces_them_hook_by_hook) {
  std::string yaml = Replace(kValidConnector, "syncs:\n",
                             "hooks:\n  after_pull:\n    command: [systemctl, reload, nginx]\n"
                             "  validate_local:\n    command: [/bin/true]\nsyncs:\n") +
                     "    hooks:\n      validate_local:\n        command: [sh, -c, 'exit 0']\n        timeout: 5m\n"
                     "  - name: other\n    local: /srv/other\n";
  auto c = LoadConnector(yaml);
  ExpectErrors(c, {});
  const auto& syncs = c.result.config.connectors[0].syncs;
  BOOST_REQUIRE_EQUAL(syncs.size(), 2u);
  BOOST_TEST(syncs[0].hooks.after_pull.command == (std::vector<std::string>{"systemctl", "reload", "nginx"}));
  BOOST_TEST(syncs[0].hooks.after_pull.timeout.count() == 60);
  BOOST_TEST(syncs[0].hooks.validate_local.command == (std::vector<std::string>{"sh", "-c", "exit 0"}));
  BOOST_TEST(syncs[0].hooks.validate_local.timeout.count() == 300);
  BOOST_TEST(!syncs[0].hooks.validate_remote.set());
  BOOST_TEST(syncs[1].hooks.validate_local.command == (std::vector<std::string>{"/bin/true"}));
}

BOOST_AUTO_TEST_CASE(a_hook_needs_an_argv_list_and_a_timeout_up_to_10m) {
  auto c = LoadConnector(std::string(kValidConnector) +
                         "    hooks:\n      after_pull:\n        command: systemctl reload nginx\n"
                         "      validate_remote:\n        command: [nginx, -t]\n        timeout: 1h\n"
                         "      before_push:\n        command: [x]\n");
  BOOST_REQUIRE_EQUAL(c.errors.size(), 3u);
  std::string all;
  for (const auto& e : c.errors) all += e + "\n";
  BOOST_TEST(all.find("syncs[0].hooks.after_pull.command: must be a list: the program and its arguments") != std::string::npos, all);
  BOOST_TEST(all.find("syncs[0].hooks.validate_remote.timeout: must be between 1s and 10m") != std::string::npos, all);
  BOOST_TEST(all.find("unknown key 'before_push'") != std::string::npos, all);
}

// Found by the config loader fuzzer: a hook with no `command` key threw out of the loader.
BOOST_AUTO_TEST_CASE(a_hook_without_a_command_is_an_error_naming_it) {
  auto c = LoadConnector(std::string(kValidConnector) + "    hooks:\n      validate_remote:\n        timeout: 3s\n");
  BOOST_REQUIRE_EQUAL(c.errors.size(), 1u);
  BOOST_TEST(c.errors[0].find("syncs[0].hooks.validate_remote.command: must be a list") != std::string::npos,
             c.errors[0]);
}
