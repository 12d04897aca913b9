// gitsyncd.yaml `cluster:` and connectors' `delegate_selectors:`: what loads, and the exact
// file:line message for each mistake.
#include <boost/test/unit_test.hpp>

#include "tests/config/config_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

LoadedConfig LoadDaemon(const std::string& cluster_yaml) {
  return LoadConnectors({}, "state_dir: /var/lib/gitsyncd-test\n" + cluster_yaml);
}

void ExpectErrors(const LoadedConfig& c, const std::vector<std::string>& expected) {
  BOOST_TEST(c.errors == expected, boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_config)

BOOST_AUTO_TEST_CASE(without_a_cluster_section_the_daemon_is_standalone) {
  auto c = LoadDaemon("");
  ExpectErrors(c, {});
  BOOST_TEST(!c.result.config.daemon.cluster.configured);
}

BOOST_AUTO_TEST_CASE(a_full_cluster_section_loads) {
  auto c = LoadDaemon(
      "cluster:\n"
      "  endpoints: [https://etcd1:2379, https://etcd2:2379/]\n"
      "  tls:\n"
      "    ca: {file: /etc/gitsyncd/etcd-ca.pem}\n"
      "    cert: {file: /etc/gitsyncd/etcd-client.pem}\n"
      "    key: {secret: etcd-client-key}\n"
      "  selectors: [linux, eu-west, linux]\n"
      "  prefix: /fleets/prod/\n"
      "  lease_ttl: 15s\n");
  ExpectErrors(c, {});
  const ClusterConfig& k = c.result.config.daemon.cluster;
  BOOST_TEST(k.configured);
  BOOST_TEST(k.endpoints == (std::vector<std::string>{"https://etcd1:2379", "https://etcd2:2379"}),
             boost::test_tools::per_element());
  BOOST_TEST((k.client_key.kind == SecretRef::Kind::kStore));
  BOOST_TEST(k.client_key.value == "etcd-client-key");
  BOOST_TEST(k.ca.value == "/etc/gitsyncd/etcd-ca.pem");
  BOOST_TEST(k.selectors == (std::vector<std::string>{"linux", "eu-west"}), boost::test_tools::per_element());
  BOOST_TEST(k.prefix == "/fleets/prod/");
  BOOST_TEST(k.lease_ttl.count() == 15);
}

BOOST_AUTO_TEST_CASE(the_instance_name_defaults_to_the_host_name_and_the_lease_to_10s) {
  auto c = LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379]\n");
  ExpectErrors(c, {});
  // One name for the fleet and for commit status contexts: the top-level `instance`.
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string short_name(host);
  short_name = short_name.substr(0, short_name.find('.'));
  BOOST_TEST(c.result.config.daemon.instance == short_name);
  BOOST_TEST(c.result.config.daemon.cluster.lease_ttl.count() == 10);
  BOOST_TEST(c.result.config.daemon.cluster.prefix == "/gitsyncd/");
}

BOOST_AUTO_TEST_CASE(a_relay_key_is_a_secret_reference_and_never_a_value_in_yaml) {
  auto c = LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379]\n  relay_key: {secret: fleet-relay}\n");
  ExpectErrors(c, {});
  const SecretRef& key = c.result.config.daemon.cluster.relay_key;
  BOOST_TEST((key.kind == SecretRef::Kind::kStore));
  BOOST_TEST(key.value == "fleet-relay");
  BOOST_TEST(!LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379]\n").result.config.daemon.cluster.relay_key.present());
  ExpectErrors(LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379]\n  relay_key: hunter2hunter2\n"),
               {"gitsyncd.yaml:4:14: cluster.relay_key: secret values never appear in YAML; use {secret: NAME}, "
                "{file: PATH} or {env: VAR}"});
}

BOOST_AUTO_TEST_CASE(mistakes_are_reported_with_file_line_and_key) {
  auto c = LoadDaemon(
      "cluster:\n"
      "  endpoints:\n"
      "    - http://etcd1:2379\n"
      "    - ftp://etcd2:2379\n"
      "    - https://etcd3\n"
      "  tls:\n"
      "    cert: {file: /c.pem}\n"
      "  selectors: [ok, -bad]\n"
      "  prefix: gitsyncd\n"
      "  lease_ttl: 1s\n"
      "  lease: 3s\n");
  ExpectErrors(c, {
      "gitsyncd.yaml:4:7: cluster.endpoints[0]: 'http://etcd1:2379' plain http:// is only allowed on loopback; "
      "anyone on the path could forge pushes and steal exclusive bindings: use https:// with cluster.tls",
      "gitsyncd.yaml:5:7: cluster.endpoints[1]: 'ftp://etcd2:2379' must start with http:// or https://",
      "gitsyncd.yaml:6:7: cluster.endpoints[2]: 'https://etcd3' must name a host and a port (https://etcd1:2379)",
      "gitsyncd.yaml:8:5: cluster.tls: cert and key must be given together",
      "gitsyncd.yaml:9:19: cluster.selectors[1]: selector '-bad' must start with a letter or digit",
      "gitsyncd.yaml:10:11: cluster.prefix: must start and end with '/' and hold only letters, digits, '/', '-', "
      "'_' and '.' (e.g. /gitsyncd/)",
      "gitsyncd.yaml:11:14: cluster.lease_ttl: must be between 2s and 5m",
      "gitsyncd.yaml:12:3: cluster.lease: unknown key 'lease'",
  });
}

BOOST_AUTO_TEST_CASE(a_cluster_without_endpoints_or_with_mixed_schemes_is_refused) {
  ExpectErrors(LoadDaemon("cluster:\n  selectors: [a]\n"),
               {"gitsyncd.yaml:3:3: cluster.endpoints: required key is missing (the etcd members, e.g. "
                "https://etcd1:2379)"});
  ExpectErrors(LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379, https://127.0.0.2:2379]\n"),
               {"gitsyncd.yaml:3:14: cluster.endpoints: mixes http:// and https:// endpoints; use one scheme"});
  ExpectErrors(LoadDaemon("cluster:\n  endpoints: [\"http://[::1]:2379\"]\n  tls:\n    ca: {file: /ca.pem}\n"),
               {"gitsyncd.yaml:5:5: cluster.tls: is for https:// endpoints; these are http://"});
}

BOOST_AUTO_TEST_CASE(the_instance_name_is_the_top_level_instance_key_for_the_fleet_and_statuses) {
  auto c = LoadDaemon("instance: web-01\ncluster:\n  endpoints: [http://127.0.0.1:2379]\n");
  ExpectErrors(c, {});
  BOOST_TEST(c.result.config.daemon.instance == "web-01");
  ExpectErrors(LoadDaemon("instance: web 01\n"),
               {"gitsyncd.yaml:2:11: instance: 'web 01' may hold only letters, digits, '.', '_' and '-'"});
  ExpectErrors(LoadDaemon("instance: -web\n"), {"gitsyncd.yaml:2:11: instance: '-web' must start with a letter or digit"});
}

BOOST_AUTO_TEST_CASE(the_removed_cluster_name_key_is_refused_naming_the_key_to_use) {
  ExpectErrors(LoadDaemon("cluster:\n  endpoints: [http://127.0.0.1:2379]\n  name: web-01\n"),
               {"gitsyncd.yaml:4:9: cluster.name: is no longer read: the instance name is the top-level `instance:` of "
                "gitsyncd.yaml (one name for the fleet and commit statuses); move the value there"});
}

BOOST_AUTO_TEST_CASE(delegate_selectors_load_and_are_checked) {
  std::string base = kValidConnector;
  auto ok = LoadConnector(base + "delegate_selectors: [linux, eu-west]\n");
  ExpectErrors(ok, {});
  BOOST_REQUIRE_EQUAL(ok.result.config.connectors.size(), 1u);
  BOOST_TEST(ok.result.config.connectors[0].delegate_selectors == (std::vector<std::string>{"linux", "eu-west"}),
             boost::test_tools::per_element());
  ExpectErrors(LoadConnector(base + "delegate_selectors: linux\n"),
               {"connectors.d/c.yaml:11:21: delegate_selectors: must be a list of up to 64 selectors, e.g. "
                "[linux, eu-west]"});
  ExpectErrors(LoadConnector(base + "delegate_selectors: [\"a b\"]\n"),
               {"connectors.d/c.yaml:11:22: delegate_selectors[0]: selector 'a b' may hold only letters, digits, "
                "'.', '_' and '-'"});
}

BOOST_AUTO_TEST_SUITE_END()
