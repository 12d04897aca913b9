// The etcd client against a real etcd 3.4 on loopback: what the fleet relies on (leases that
// expire, compare-and-swap, a watch that sees every put, bounded waits when etcd is gone).
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "cluster/etcd_client.h"
#include "tests/support/etcd_server.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

EtcdClientOptions Options(const std::vector<std::string>& endpoints) {
  EtcdClientOptions o;
  o.endpoints = endpoints;
  o.timeout = 2000ms;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(etcd_client)

BOOST_AUTO_TEST_CASE(keys_put_under_a_lease_vanish_when_it_is_not_renewed) {
  EtcdCluster etcd;
  EtcdClient client(Options(etcd.endpoints()));
  auto lease = client.GrantLease(2s);
  BOOST_REQUIRE_MESSAGE(lease.ok(), lease.status().message());
  BOOST_REQUIRE(client.Put("/t/members/a", "binary \x01\xff value", *lease).ok());
  BOOST_REQUIRE(client.Put("/t/other", "x").ok());
  auto got = client.Range("/t/members/");
  BOOST_REQUIRE(got.ok());
  BOOST_REQUIRE_EQUAL(got->size(), 1u);
  BOOST_TEST((*got)[0].value == "binary \x01\xff value");
  BOOST_TEST((*got)[0].lease == *lease);
  BOOST_TEST(etcd.GetPrefix("/t/members/").find("/t/members/a") != std::string::npos);
  // Renewed, it stays past its TTL; left alone, it goes.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(700ms);
    BOOST_REQUIRE(client.KeepAlive(*lease).ok());
  }
  BOOST_TEST(client.Get("/t/members/a")->has_value());
  BOOST_TEST(WaitFor([&] { return client.Range("/t/members/")->empty(); }, 6s));
  auto expired = client.KeepAlive(*lease);
  BOOST_TEST((expired.status().code() == Status::Code::kNotFound), expired.status().message());
}

BOOST_AUTO_TEST_CASE(put_if_absent_lets_exactly_one_writer_win) {
  EtcdCluster etcd;
  EtcdClient a(Options(etcd.endpoints())), b(Options(etcd.endpoints()));
  auto first = a.PutIfAbsent("/t/owner/app", "a", 0);
  auto second = b.PutIfAbsent("/t/owner/app", "b", 0);
  BOOST_REQUIRE(first.ok() && second.ok());
  BOOST_TEST(*first);
  BOOST_TEST(!*second);
  BOOST_TEST((*b.Get("/t/owner/app"))->value == "a");
}

BOOST_AUTO_TEST_CASE(put_if_absent_writes_its_other_keys_only_when_it_wins) {
  EtcdCluster etcd;
  EtcdClient a(Options(etcd.endpoints())), b(Options(etcd.endpoints()));
  auto lease = a.GrantLease(60s);
  BOOST_REQUIRE(lease.ok());
  auto first = a.PutIfAbsent("/t/deliveries/d1", "a", *lease, {{"/t/pushes/main", "from a", 0, 0, *lease}});
  auto second = b.PutIfAbsent("/t/deliveries/d1", "b", 0, {{"/t/pushes/main", "from b", 0, 0, 0}});
  BOOST_REQUIRE(first.ok() && second.ok());
  BOOST_TEST(*first);
  BOOST_TEST(!*second);
  auto push = a.Get("/t/pushes/main");
  BOOST_REQUIRE(push.ok() && push->has_value());
  BOOST_TEST((*push)->value == "from a");  // the loser wrote nothing
  BOOST_TEST((*push)->lease == *lease);
  // One transaction: both keys are from the same revision.
  BOOST_TEST((*push)->mod_revision == (*a.Get("/t/deliveries/d1"))->mod_revision);
}

// The relayed pack is read at the revision its push was heard at (cluster/fleet.cpp): from any
// member, that revision's value, even after the key changed; a revision no member has yet is
// an error, not an empty answer.
BOOST_AUTO_TEST_CASE(a_key_read_at_a_past_revision_gives_that_revisions_value_from_every_member) {
  EtcdCluster etcd;
  EtcdClient writer(Options(etcd.endpoints()));
  BOOST_REQUIRE(writer.Put("/t/packs/a", "first").ok());
  auto first = writer.Get("/t/packs/a");
  BOOST_REQUIRE(first.ok() && first->has_value());
  int64_t revision = (*first)->mod_revision;
  BOOST_REQUIRE(writer.Put("/t/packs/a", "second").ok());
  for (const auto& endpoint : etcd.endpoints()) {
    EtcdClient reader(Options({endpoint}));
    auto old = reader.Get("/t/packs/a", revision);
    BOOST_REQUIRE_MESSAGE(old.ok(), endpoint << ": " << old.status().message());
    BOOST_REQUIRE(old->has_value());
    BOOST_TEST((*old)->value == "first", endpoint);
    BOOST_TEST((*old)->mod_revision == revision);
    BOOST_TEST((*reader.Get("/t/packs/a"))->value == "second");
  }
  auto future = writer.Get("/t/packs/a", revision + 1000);
  BOOST_TEST(!future.ok());
  BOOST_TEST(future.status().message().find("future revision") != std::string::npos, future.status().message());
}

BOOST_AUTO_TEST_CASE(a_watch_sees_each_put_under_its_prefix_and_resumes_without_gaps) {
  EtcdCluster etcd;
  EtcdClient writer(Options(etcd.endpoints()));
  int64_t revision = 0;
  BOOST_REQUIRE(writer.Range("/t/", 0, &revision).ok());
  BOOST_REQUIRE(writer.Put("/t/pushes/1", "one").ok());
  BOOST_REQUIRE(writer.Put("/elsewhere", "no").ok());
  BOOST_REQUIRE(writer.Put("/t/pushes/2", "two").ok());
  EtcdClient watcher(Options(etcd.endpoints()));
  std::vector<std::string> seen;
  // From the revision before the puts: both arrive, the key outside the prefix does not.
  auto next = watcher.Watch("/t/pushes/", revision + 1, 2000ms, [&](const EtcdEvent& e) {
    seen.push_back(e.kv.key + "=" + e.kv.value);
    return seen.size() < 2;
  });
  BOOST_REQUIRE_MESSAGE(next.ok(), next.status().message());
  BOOST_TEST(seen == (std::vector<std::string>{"/t/pushes/1=one", "/t/pushes/2=two"}), boost::test_tools::per_element());
  // A put made while nobody watches is delivered by the next watch from `next`.
  BOOST_REQUIRE(writer.Put("/t/pushes/3", "three").ok());
  seen.clear();
  next = watcher.Watch("/t/pushes/", *next, 2000ms, [&](const EtcdEvent& e) {
    seen.push_back(e.kv.key);
    return false;
  });
  BOOST_REQUIRE(next.ok());
  BOOST_TEST(seen == (std::vector<std::string>{"/t/pushes/3"}), boost::test_tools::per_element());
  // A quiet watch ends after its idle time with the same revision, so the caller resumes.
  auto start = std::chrono::steady_clock::now();
  auto quiet = watcher.Watch("/t/pushes/", *next, 500ms, [](const EtcdEvent&) { return true; });
  BOOST_REQUIRE(quiet.ok());
  BOOST_TEST(*quiet == *next);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
}

BOOST_AUTO_TEST_CASE(a_dead_etcd_fails_calls_quickly_and_a_stop_flag_ends_a_watch) {
  EtcdCluster etcd;
  std::atomic<bool> stop{false};
  EtcdClientOptions o = Options(etcd.endpoints());
  o.stop = &stop;
  EtcdClient client(o);
  std::thread stopper([&] {
    std::this_thread::sleep_for(500ms);
    stop = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto w = client.Watch("/t/", 0, 60000ms, [](const EtcdEvent&) { return true; });
  stopper.join();
  BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
  stop = false;
  etcd.Stop(0);
  start = std::chrono::steady_clock::now();
  auto put = client.Put("/t/x", "y");
  BOOST_TEST((put.code() == Status::Code::kUnavailable), put.message());
  BOOST_TEST(put.message().find("127.0.0.1") != std::string::npos, put.message());
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
}

BOOST_AUTO_TEST_SUITE_END()
