// Fleet membership and push fan-out against a real etcd: instances register under a lease,
// leave when stopped, hear each other's pushes (never their own), and re-register after etcd
// comes back from an outage.
#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "cluster/fleet.h"
#include "config/base64.h"
#include "tests/support/etcd_server.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

ClusterConfig Cluster(const EtcdCluster& etcd, std::vector<std::string> selectors) {
  ClusterConfig c;
  c.configured = true;
  c.endpoints = etcd.endpoints();
  c.selectors = std::move(selectors);
  c.lease_ttl = 2s;
  return c;
}

EtcdClientOptions Client(const EtcdCluster& etcd) {
  EtcdClientOptions o;
  o.endpoints = etcd.endpoints();
  o.timeout = 1000ms;
  return o;
}

struct Heard {
  std::mutex mu;
  std::vector<FleetPush> pushes;
  std::atomic<int> owner_changes{0};
  Fleet::Callbacks Callbacks(std::string commit) {
    return {[commit] {
              return std::vector<FleetBinding>{{"app", "team", "https://git.example/app.git", "main", "", commit,
                                                "2026-11-30T00:00:00Z", ""}};
            },
            [this](const FleetPush& p) {
              std::lock_guard<std::mutex> lock(mu);
              pushes.push_back(p);
            },
            [] { return std::vector<std::string>{"on-nfs"}; },
            [this](const std::set<std::string>&) { ++owner_changes; },
            nullptr};
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return pushes.size();
  }
};

FleetPush Push(const std::string& commit, const std::string& reason, const std::string& delivery) {
  FleetPush p;
  p.remote = "https://git.example/app.git";
  p.branch = "main";
  p.commit = commit;
  p.reason = reason;
  p.delivery = delivery;
  return p;
}

std::vector<std::string> Names(EtcdClient& client, const ClusterConfig& c) {
  std::vector<std::string> out;
  auto members = ListMembers(client, c);
  if (members.ok()) {
    for (const auto& m : *members) out.push_back(m.name);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fleet)

BOOST_AUTO_TEST_CASE(instances_register_with_their_bindings_and_leave_when_stopped) {
  EtcdCluster etcd;
  Heard ha, hb;
  auto a = std::make_unique<Fleet>(Cluster(etcd, {"linux"}), "alpha", Client(etcd), ha.Callbacks("c0ffee"));
  auto b = std::make_unique<Fleet>(Cluster(etcd, {"linux", "eu"}), "beta", Client(etcd), hb.Callbacks(""));
  EtcdClient reader(Client(etcd));
  ClusterConfig view = Cluster(etcd, {});
  BOOST_REQUIRE(WaitFor([&] { return Names(reader, view) == std::vector<std::string>{"alpha", "beta"}; }, 10s));
  auto members = ListMembers(reader, view);
  BOOST_REQUIRE(members.ok());
  BOOST_TEST((*members)[1].selectors == (std::vector<std::string>{"linux", "eu"}), boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL((*members)[0].bindings.size(), 1u);
  BOOST_TEST((*members)[0].bindings[0].commit == "c0ffee");
  // Its record can be listed a moment before the instance has finished its first round.
  BOOST_TEST(WaitFor([&] { return a->registered(); }, 5s));
  // A stopped instance revokes its lease: it is gone at once, not a TTL later.
  b.reset();
  BOOST_TEST(Names(reader, view) == std::vector<std::string>{"alpha"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_published_push_reaches_every_other_instance_once) {
  EtcdCluster etcd;
  Heard ha, hb;
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  Fleet b(Cluster(etcd, {}), "beta", Client(etcd), hb.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a.registered() && b.registered(); }, 10s));
  std::this_thread::sleep_for(300ms);  // both watches are set up
  a.Publish(Push("abc123", "webhook github d-1", ""));
  BOOST_REQUIRE(WaitFor([&] { return hb.size() == 1; }, 10s));
  {
    std::lock_guard<std::mutex> lock(hb.mu);
    BOOST_TEST(hb.pushes[0].remote == "https://git.example/app.git");
    BOOST_TEST(hb.pushes[0].branch == "main");
    BOOST_TEST(hb.pushes[0].commit == "abc123");
    BOOST_TEST(hb.pushes[0].from == "alpha");
  }
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(ha.size() == 0u);  // the receiver already triggered its own bindings
  BOOST_TEST(hb.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_redelivery_received_by_another_instance_is_not_published_again) {
  EtcdCluster etcd;
  Heard ha, hb, hc;
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  Fleet b(Cluster(etcd, {}), "beta", Client(etcd), hb.Callbacks(""));
  Fleet c(Cluster(etcd, {}), "gamma", Client(etcd), hc.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a.registered() && b.registered() && c.registered(); }, 10s));
  std::this_thread::sleep_for(300ms);
  FleetPush push;
  push.remote = "https://git.example/app.git";
  push.branch = "main";
  push.commit = "abc";
  push.reason = "webhook github d-7";
  push.delivery = "d-7";
  a.Publish(push);
  BOOST_REQUIRE(WaitFor([&] { return hc.size() == 1; }, 10s));
  b.Publish(push);  // the provider redelivered it, and the load balancer chose beta
  FleetPush other = push;
  other.branch = "release";  // the same delivery moved a second branch: that is news
  b.Publish(other);
  BOOST_REQUIRE(WaitFor([&] { return hc.size() == 2; }, 10s));
  std::this_thread::sleep_for(500ms);
  std::lock_guard<std::mutex> lock(hc.mu);
  BOOST_REQUIRE_EQUAL(hc.pushes.size(), 2u);
  BOOST_TEST(hc.pushes[1].branch == "release");
}

BOOST_AUTO_TEST_CASE(one_instance_owns_an_exclusive_binding_and_another_takes_it_when_the_owner_is_gone) {
  EtcdCluster etcd;
  Heard ha, hb;
  auto a = std::make_unique<Fleet>(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a->Owned().count("on-nfs") == 1; }, 10s));
  Fleet b(Cluster(etcd, {}), "beta", Client(etcd), hb.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return b.registered(); }, 10s));
  std::this_thread::sleep_for(3s);  // several election rounds: beta never wins while alpha lives
  BOOST_TEST(b.Owned().empty());
  BOOST_TEST(ha.owner_changes == 1);
  BOOST_TEST(etcd.GetPrefix("/gitsyncd/owners/on-nfs").find("alpha") != std::string::npos);
  a.reset();  // stops, revoking its lease
  BOOST_TEST(WaitFor([&] { return b.Owned().count("on-nfs") == 1; }, 5s));
  BOOST_TEST(hb.owner_changes == 1);
}

BOOST_AUTO_TEST_CASE(an_idle_fleet_whose_exclusive_binding_has_an_owner_writes_nothing_to_the_raft_log) {
  EtcdCluster etcd;
  Heard ha, hb;
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a.Owned().count("on-nfs") == 1; }, 10s));
  Fleet b(Cluster(etcd, {}), "beta", Client(etcd), hb.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return b.registered(); }, 10s));
  std::this_thread::sleep_for(1s);  // member records written
  const std::string committed = "etcd_server_proposals_committed_total";
  double before = etcd.Metric(0, committed);
  // About four election rounds of beta (one per renewal, every 667 ms): each one looks at the
  // owner key, and a look is a read, not a transaction through Raft; lease renewals are not
  // Raft entries either.
  std::this_thread::sleep_for(3s);
  double after = etcd.Metric(0, committed);
  BOOST_REQUIRE(before >= 0 && after >= 0);
  BOOST_TEST(after - before == 0);
  BOOST_TEST(b.Owned().empty());
}

// A binding whose commit moves with every push (a burst of deliveries) does not rewrite the
// instance's member record each time: progress alone is written at most every 5 s, and the
// latest commit still shows soon after; an error shows at the next round.
BOOST_AUTO_TEST_CASE(a_burst_of_commits_rewrites_the_member_record_at_most_every_5s_and_an_error_at_once) {
  EtcdCluster etcd;
  std::mutex mu;
  std::string commit = "c0", error;
  Heard heard;
  Fleet::Callbacks callbacks = heard.Callbacks("");
  callbacks.bindings = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return std::vector<FleetBinding>{{"app", "team", "https://git.example/app.git", "main", "", commit,
                                      "2026-12-01T00:00:00Z", error}};
  };
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), callbacks);
  EtcdClient reader(Client(etcd));
  ClusterConfig view = Cluster(etcd, {});
  auto shown = [&](auto field) {
    auto members = ListMembers(reader, view);
    return members.ok() && members->size() == 1 && (*members)[0].bindings.size() == 1
               ? field((*members)[0].bindings[0])
               : std::string();
  };
  auto shown_commit = [&] { return shown([](const FleetBinding& b) { return b.commit; }); };
  BOOST_REQUIRE(WaitFor([&] { return a.registered() && shown_commit() == "c0"; }, 10s));
  BOOST_REQUIRE(WaitFor([&] { return a.Owned().count("on-nfs") == 1; }, 10s));
  std::this_thread::sleep_for(1s);
  const std::string committed = "etcd_server_proposals_committed_total";
  double before = etcd.Metric(0, committed);
  // 20 commits over 6 s: about nine rounds (a renewal every 667 ms) saw a new one.
  for (int i = 1; i <= 20; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      commit = "c" + std::to_string(i);
    }
    std::this_thread::sleep_for(300ms);
  }
  double after = etcd.Metric(0, committed);
  BOOST_REQUIRE(before >= 0 && after >= 0);
  BOOST_TEST(after - before <= 2, "member record writes during the burst: " << after - before);
  BOOST_TEST(WaitFor([&] { return shown_commit() == "c20"; }, 8s), shown_commit());
  {
    std::lock_guard<std::mutex> lock(mu);
    error = "cannot reach the remote";
  }
  BOOST_TEST(WaitFor([&] { return shown([](const FleetBinding& b) { return b.error; }) == "cannot reach the remote"; }, 2s));
}

BOOST_AUTO_TEST_CASE(an_owner_cut_off_from_etcd_gives_its_exclusive_bindings_up_before_its_lease_can_expire) {
  EtcdCluster etcd;
  Heard ha;
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a.Owned().count("on-nfs") == 1; }, 10s));
  etcd.Stop(0);
  auto cut = std::chrono::steady_clock::now();
  BOOST_REQUIRE(WaitFor([&] { return a.Owned().empty(); }, 10s));
  BOOST_TEST((std::chrono::steady_clock::now() - cut < 2s));  // 3/4 of the 2 s lease, give or take a request
}

BOOST_AUTO_TEST_CASE(a_push_queued_while_etcd_refuses_connections_is_retried_with_backoff_not_in_a_loop) {
  // An "etcd" that accepts connections and closes them at once: every request fails fast.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  std::atomic<int> connections{0};
  std::atomic<bool> done{false};
  std::thread server([&] {
    while (!done) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket s(io);
      acceptor.accept(s, ec);
      if (!ec) ++connections;
    }
  });
  ClusterConfig c;
  c.configured = true;
  c.endpoints = {"http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port())};
  c.lease_ttl = 2s;
  EtcdClientOptions o;
  o.endpoints = c.endpoints;
  o.timeout = 1000ms;
  Heard h;
  {
    Fleet a(c, "alpha", o, h.Callbacks(""));
    a.Publish(Push("abc", "webhook github d-1", "d-1"));
    std::this_thread::sleep_for(3s);
    BOOST_TEST(!a.last_error().empty());
    // Backoff from 500 ms doubling: a handful of tries by each of the two fleet threads, not
    // one after another for as long as the push waits.
    BOOST_TEST(connections.load() < 30, connections.load() << " connections in 3 s");
  }
  done = true;
  boost::asio::ip::tcp::socket wake(io);
  wake.connect(acceptor.local_endpoint());
  server.join();
}

BOOST_AUTO_TEST_CASE(an_instance_re_registers_and_resumes_its_watch_after_an_etcd_outage) {
  EtcdCluster etcd;
  Heard ha, hb;
  Fleet a(Cluster(etcd, {}), "alpha", Client(etcd), ha.Callbacks(""));
  Fleet b(Cluster(etcd, {}), "beta", Client(etcd), hb.Callbacks(""));
  BOOST_REQUIRE(WaitFor([&] { return a.registered() && b.registered(); }, 10s));
  etcd.Stop(0);
  BOOST_TEST(WaitFor([&] { return !a.last_error().empty() && !a.registered(); }, 10s));
  BOOST_TEST(a.last_error().find("127.0.0.1") != std::string::npos, a.last_error());
  a.Publish(Push("def456", "webhook during outage", ""));
  // Longer than the lease: etcd expires both leases when it is back; both register again.
  std::this_thread::sleep_for(2500ms);
  etcd.Start(0);
  EtcdClient reader(Client(etcd));
  ClusterConfig view = Cluster(etcd, {});
  BOOST_TEST(WaitFor([&] { return Names(reader, view) == std::vector<std::string>{"alpha", "beta"}; }, 20s));
  BOOST_TEST(WaitFor([&] { return a.last_error().empty(); }, 10s));
  // The push queued while etcd was away is delivered after it returns.
  BOOST_TEST(WaitFor([&] { return hb.size() == 1; }, 20s));
}

// A push record is written by anyone who can write to etcd: the pack it carries is taken only
// when it is well-formed base64 of at most 4 KiB; anything else is as good as no pack (the
// instance then reads packs/<hash> or fetches), never an error or a larger allocation.
BOOST_AUTO_TEST_CASE(a_push_records_pack_is_taken_only_when_it_is_small_well_formed_base64) {
  FleetPush p;
  p.remote = "https://git.example.com/cfg.git";
  p.branch = "main";
  p.relay_mac = std::string(64, 'a');
  p.relay_pack = "PACK" + std::string(4092, 'x');  // 4 KiB: in the record
  auto back = PushFromJson(PushToJson(p));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->relay_pack == p.relay_pack);
  p.relay_pack += "y";  // one byte more: its own key, not the record
  back = PushFromJson(PushToJson(p));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->relay_pack.empty());
  BOOST_TEST(PushToJson(p).find("\"pack\"") == std::string::npos);
  auto with_pack = [](const std::string& packed) {
    return "{\"remote\":\"r\",\"branch\":\"main\",\"relay\":{\"base\":\"\",\"mac\":\"" + std::string(64, 'a') +
           "\",\"pack\":\"" + packed + "\"}}";
  };
  for (const std::string& hostile : {Base64Encode(std::string(5000, 'x')), std::string("not base64!"),
                                     std::string("UEFDSw"), std::string(1 << 20, 'A')}) {
    auto parsed = PushFromJson(with_pack(hostile));
    BOOST_REQUIRE(parsed.ok());
    BOOST_TEST(parsed->relay_pack.empty(), hostile.substr(0, 40));
    BOOST_TEST(parsed->relay_mac == std::string(64, 'a'));
  }
}

BOOST_AUTO_TEST_SUITE_END()
