#include "cluster/fleet.h"

#include "config/base64.h"
#include "config/hex.h"

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace gitsyncd {

namespace json = boost::json;

namespace {

constexpr size_t kMaxQueuedPushes = 1000;     // beyond: dropped (polling catches up), logged
constexpr size_t kMaxQueuedPackBytes = 4u << 20;  // beyond: pushes queue without their relayed pack
constexpr std::chrono::hours kPushLeaseTtl{1};  // a push key outlives every watcher's reconnect
constexpr std::chrono::seconds kMemberRefresh{2};
// A member record whose only change is its bindings' progress (commit, time of the last sync)
// is rewritten at most this often; any other change (a binding added or gone, an error, the
// selectors) at the next round. A burst of pushes then costs each instance one write through
// Raft per 5 s, not one per push, and `cluster status` shows a commit at most about 7 s late.
constexpr std::chrono::seconds kProgressEvery{5};
constexpr std::chrono::milliseconds kWatchIdle{30000};
// A relayed pack up to this size travels inside the push record (base64), so the watch event
// that announces the push brings it and no instance has a read of its own to make; a larger
// one gets its own key. Every watcher receives the record, serving the branch or not, hence
// the bound (docs/fleet.md, "Internet scale").
constexpr size_t kMaxInlinePackBytes = 4096;

bool PackInline(const FleetPush& p) {
  return !p.relay_mac.empty() && !p.relay_pack.empty() && p.relay_pack.size() <= kMaxInlinePackBytes;
}

std::string Now() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string ShortHash(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), md, &n, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), std::min(n, 16u)));
}

}  // namespace

std::string MemberToJson(const FleetMember& m) {
  json::array selectors(m.selectors.begin(), m.selectors.end());
  json::array bindings;
  for (const auto& b : m.bindings) {
    bindings.push_back(json::object{{"name", b.name},     {"connector", b.connector}, {"remote", b.remote},
                                    {"branch", b.branch}, {"path", b.path},           {"commit", b.commit},
                                    {"synced_at", b.synced_at}, {"error", b.error}});
  }
  return json::serialize(json::object{{"name", m.name}, {"selectors", std::move(selectors)}, {"started", m.started},
                                      {"updated", m.updated}, {"bindings", std::move(bindings)}});
}

Result<FleetMember> MemberFromJson(const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corrupted("member record is not a JSON object");
  const auto& o = v.as_object();
  FleetMember m{Field(o, "name"), {}, Field(o, "started"), Field(o, "updated"), {}};
  if (auto* s = o.if_contains("selectors"); s && s->is_array()) {
    for (const auto& x : s->as_array()) {
      if (x.is_string()) m.selectors.emplace_back(x.as_string());
    }
  }
  if (auto* bs = o.if_contains("bindings"); bs && bs->is_array()) {
    for (const auto& x : bs->as_array()) {
      if (!x.is_object()) continue;
      const auto& b = x.as_object();
      m.bindings.push_back({Field(b, "name"), Field(b, "connector"), Field(b, "remote"), Field(b, "branch"),
                            Field(b, "path"), Field(b, "commit"), Field(b, "synced_at"), Field(b, "error")});
    }
  }
  return m;
}

std::string PushToJson(const FleetPush& p) {
  json::object o{{"remote", p.remote}, {"branch", p.branch}, {"commit", p.commit}, {"from", p.from},
                 {"reason", p.reason}, {"time", p.time},     {"delivery", p.delivery}};
  if (!p.relay_mac.empty()) {
    json::object relay{{"base", p.relay_base}, {"mac", p.relay_mac}, {"bytes", p.relay_pack.size()}};
    if (PackInline(p)) relay["pack"] = Base64Encode(p.relay_pack);
    o["relay"] = std::move(relay);
  }
  return json::serialize(o);
}

Result<FleetPush> PushFromJson(const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corrupted("push record is not a JSON object");
  const auto& o = v.as_object();
  FleetPush p;
  for (auto [field, name] : {std::pair{&FleetPush::remote, "remote"}, {&FleetPush::branch, "branch"},
                             {&FleetPush::commit, "commit"}, {&FleetPush::from, "from"}, {&FleetPush::reason, "reason"},
                             {&FleetPush::time, "time"}, {&FleetPush::delivery, "delivery"}}) {
    p.*field = Field(o, name);
  }
  if (auto* r = o.if_contains("relay"); r && r->is_object()) {
    p.relay_base = Field(r->as_object(), "base");
    p.relay_mac = Field(r->as_object(), "mac");
    // Anything but a well-formed small pack is as good as none: the instance reads or fetches.
    std::string packed = Field(r->as_object(), "pack");
    if (packed.size() <= (kMaxInlinePackBytes + 2) / 3 * 4) {
      auto bytes = Base64Decode(packed);
      if (bytes && bytes->size() <= kMaxInlinePackBytes) p.relay_pack = std::move(*bytes);
    }
  }
  return p;
}

std::string MembersPrefix(const ClusterConfig& c) { return c.prefix + "members/"; }
std::string PushesPrefix(const ClusterConfig& c) { return c.prefix + "pushes/"; }
std::string PackKey(const ClusterConfig& c, const std::string& remote, const std::string& branch) {
  return c.prefix + "packs/" + ShortHash(remote + "\n" + branch);
}
std::string OwnerKey(const ClusterConfig& c, const std::string& binding) { return c.prefix + "owners/" + binding; }
std::string DeliveryKey(const ClusterConfig& c, const FleetPush& p) {
  return c.prefix + "deliveries/" + ShortHash(p.delivery + "\n" + p.remote + "\n" + p.branch);
}
std::string PushKey(const ClusterConfig& c, const std::string& remote, const std::string& branch) {
  return PushesPrefix(c) + ShortHash(remote + "\n" + branch);
}

Result<std::vector<FleetMember>> ListMembers(EtcdClient& client, const ClusterConfig& c) {
  // One try per endpoint: a member that is down must not hide the fleet.
  auto kvs = client.Range(MembersPrefix(c));
  for (size_t i = 1; i < c.endpoints.size() && !kvs.ok() && kvs.status().code() == Status::Code::kUnavailable; ++i) {
    kvs = client.Range(MembersPrefix(c));
  }
  if (!kvs.ok()) return kvs.status();
  std::vector<FleetMember> out;
  for (const auto& kv : *kvs) {
    auto m = MemberFromJson(kv.value);
    if (m.ok()) out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::string BehindHead(const FleetBinding& b, const BranchHeads& heads, bool asked) {
  if (!asked) return "";
  auto it = heads.find(b.remote + "\n" + b.branch);
  if (it == heads.end() || it->second.empty()) return "head unknown";
  if (b.commit.empty()) return "not synced yet (head " + it->second.substr(0, 12) + ")";
  return b.commit == it->second ? "at head" : "behind head " + it->second.substr(0, 12);
}

std::string FleetStatusJson(const std::vector<FleetMember>& members, const BranchHeads& heads, bool asked,
                            const std::map<std::string, std::string>& extra) {
  json::array out;
  for (const auto& m : members) {
    json::array bindings;
    for (const auto& b : m.bindings) {
      auto it = heads.find(b.remote + "\n" + b.branch);
      bindings.push_back(json::object{{"name", b.name},     {"connector", b.connector},
                                      {"branch", b.branch}, {"commit", b.commit},
                                      {"synced_at", b.synced_at},
                                      {"head", it == heads.end() ? "" : it->second},
                                      {"state", BehindHead(b, heads, asked)}, {"error", b.error}});
    }
    out.push_back(json::object{{"name", m.name},
                               {"selectors", json::array(m.selectors.begin(), m.selectors.end())},
                               {"started", m.started},
                               {"updated", m.updated},
                               {"bindings", std::move(bindings)}});
  }
  json::object o{{"instances", std::move(out)}};
  for (const auto& [k, v] : extra) o[k] = v;
  return json::serialize(o);
}

Result<EtcdClientOptions> ClusterClientOptions(const ClusterConfig& c, const SecretStore* store,
                                               const std::string& config_dir) {
  EtcdClientOptions o;
  o.endpoints = c.endpoints;
  struct Part {
    const SecretRef& ref;
    std::string* out;
    const char* key;
  };
  for (const Part& p : {Part{c.ca, &o.ca_pem, "cluster.tls.ca"}, Part{c.client_cert, &o.cert_pem, "cluster.tls.cert"},
                        Part{c.client_key, &o.key_pem, "cluster.tls.key"}}) {
    if (!p.ref.present()) continue;
    auto v = ResolveSecret(p.ref, store, config_dir);
    if (!v.ok()) return v.status().WithContext(p.key);
    *p.out = std::move(*v);
  }
  return o;
}

struct Fleet::Impl {
  ClusterConfig config;
  std::string name;  // this instance (gitsyncd.yaml `instance`)
  EtcdClientOptions client_options;
  Callbacks callbacks;
  std::atomic<bool> stop{false};
  mutable std::mutex mu;
  std::condition_variable wake;
  struct Queued {
    FleetPush push;
    std::chrono::steady_clock::time_point at;
  };
  std::deque<Queued> queue;
  std::string error;  // guarded by mu
  std::set<std::string> owned;  // guarded by mu; written by the session thread only
  FleetView view;               // guarded by mu (members: session thread; heads: watch thread)
  // Until when View() callers want the member list kept fresh (steady clock, ms).
  mutable std::atomic<int64_t> view_wanted_until{0};
  std::atomic<bool> live{false};
  std::string started = Now();
  std::thread session, watcher;

  // Logs a failure once when it starts (and when it changes), not every retry.
  void Failed(const std::string& what, const Status& s) {
    std::string text = what + ": " + s.message();
    std::lock_guard<std::mutex> lock(mu);
    if (text != error) {
      spdlog::error("fleet: {} (this instance keeps syncing its own bindings; retrying)", text);
      error = text;
    }
  }

  void Recovered() {
    std::lock_guard<std::mutex> lock(mu);
    if (!error.empty()) spdlog::info("fleet: etcd answers again");
    error.clear();
  }

  std::string MemberKey() const { return MembersPrefix(config) + name; }
  // A third of the lease: two renewals may fail before it expires.
  std::chrono::milliseconds RenewEvery() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(config.lease_ttl) / 3;
  }

  FleetMember Record() const {
    FleetMember m{name, config.selectors, started, Now(), {}};
    if (callbacks.bindings) m.bindings = callbacks.bindings();
    return m;
  }

  // The member record as last written: whole but its `updated` time, and without progress.
  struct WrittenRecord {
    std::string whole, shape;
    std::chrono::steady_clock::time_point at{};
  };

  // Rewrites this instance's member record when it changed (progress alone: kProgressEvery).
  Status WriteRecord(EtcdClient& client, int64_t lease, WrittenRecord* written) {
    FleetMember m = Record();
    FleetMember copy{m.name, m.selectors, m.started, "", m.bindings};
    std::string whole = MemberToJson(copy);
    if (whole == written->whole) return Status::Ok();
    for (auto& b : copy.bindings) b.commit = b.synced_at = "";
    std::string shape = MemberToJson(copy);
    auto now = std::chrono::steady_clock::now();
    if (shape == written->shape && now - written->at < kProgressEvery) return Status::Ok();
    Status s = client.Put(MemberKey(), MemberToJson(m), lease);
    if (s.ok()) *written = {std::move(whole), std::move(shape), now};
    return s;
  }

  // Waits up to `d` or until the fleet stops; a backoff after a failure, not cut short by a
  // waiting push (that would retry an unreachable etcd in a tight loop).
  void Backoff(std::chrono::steady_clock::duration d) {
    std::unique_lock<std::mutex> lock(mu);
    wake.wait_for(lock, d, [&] { return stop.load(); });
  }
  // Waits up to `d` or until a push is queued or the fleet stops.
  void Sleep(std::chrono::steady_clock::duration d) {
    std::unique_lock<std::mutex> lock(mu);
    wake.wait_for(lock, d, [&] { return stop.load() || !queue.empty(); });
  }

  // The membership loop: register under a lease, renew it every third of its TTL, rewrite the
  // record when it changes, publish queued pushes; after any failure start over.
  void Session() {
    EtcdClient client(client_options);
    int64_t lease = 0, push_lease = 0;
    auto push_lease_until = std::chrono::steady_clock::now();
    WrittenRecord written;
    auto next_renew = std::chrono::steady_clock::now();
    std::chrono::milliseconds backoff{500};
    auto renewed = std::chrono::steady_clock::now();  // when the last renewal that etcd took was sent
    std::chrono::steady_clock::time_point view_read{}, next_round{};
    while (!stop) {
      auto now = std::chrono::steady_clock::now();
      Fence(now - renewed);
      // Pushes first: a delivery must not wait behind the membership round, and a wake-up
      // for a push alone does no membership work (that has its own cadence). A push that
      // cannot be published does not hold the round back: the lease must still be renewed.
      Status published = PublishQueued(client, &push_lease, &push_lease_until);
      if (published.ok() && lease != 0 && now < next_round && now < next_renew) {
        Sleep(std::min(next_round, next_renew) - std::chrono::steady_clock::now());
        continue;
      }
      Status s;
      if (lease == 0) {
        SetOwned({});  // a new lease: every ownership went with the old one
        auto granted = client.GrantLease(config.lease_ttl);
        s = granted.status();
        if (s.ok()) {
          lease = *granted;
          renewed = now;
        }
        written = {};
        next_renew = now + RenewEvery();
      } else if (now >= next_renew) {
        auto ttl = client.KeepAlive(lease);
        s = ttl.status();
        if (s.ok()) renewed = now;
        if (s.code() == Status::Code::kNotFound) lease = 0;  // expired while cut off: register again
        next_renew = now + RenewEvery();
      }
      if (s.ok() && lease != 0) s = WriteRecord(client, lease, &written);
      if (s.ok() && lease != 0) s = Elect(client, lease);
      if (s.ok()) s = RefreshView(client, &view_read);
      if (s.ok()) s = published;
      if (!s.ok()) {
        live = false;
        Failed("etcd " + client.endpoint(), s);
        // An owner never sleeps past the moment Fence() must act.
        auto fence_at = renewed + std::chrono::duration_cast<std::chrono::milliseconds>(config.lease_ttl) * 3 / 4;
        bool owns = false;
        {
          std::lock_guard<std::mutex> lock(mu);
          owns = !owned.empty();
        }
        Backoff(owns ? std::clamp<std::chrono::steady_clock::duration>(fence_at - std::chrono::steady_clock::now(),
                                                                        std::chrono::milliseconds(50), backoff)
                     : std::chrono::steady_clock::duration(backoff));
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        continue;
      }
      if (lease != 0 && !live.exchange(true)) {
        spdlog::info("fleet: registered as '{}' in etcd ({} s lease)", name, config.lease_ttl.count());
      }
      Recovered();
      backoff = std::chrono::milliseconds(500);
      next_round = std::chrono::steady_clock::now() + kMemberRefresh;
      Sleep(std::min(next_round, next_renew) - std::chrono::steady_clock::now());
    }
    live = false;
    if (lease == 0) return;
    // Others see this instance leave now, not a TTL later; the stop flag would cancel this
    // client's call, so a short-lived one without it makes the one request.
    EtcdClientOptions last = client_options;
    last.stop = nullptr;
    last.timeout = std::chrono::milliseconds(1000);
    (void)EtcdClient(last).RevokeLease(lease);
  }

  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Reads the member list for View() while someone asks for it, at most every kMemberRefresh.
  Status RefreshView(EtcdClient& client, std::chrono::steady_clock::time_point* read) {
    auto now = std::chrono::steady_clock::now();
    if (view_wanted_until.load() < SteadyMs() || now - *read < kMemberRefresh) return Status::Ok();
    auto members = ListMembers(client, config);
    if (!members.ok()) return members.status();
    *read = now;
    std::lock_guard<std::mutex> lock(mu);
    view.members = std::move(*members);
    view.read_at = Now();
    return Status::Ok();
  }

  void SetOwned(std::set<std::string> next) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (next == owned) return;
      owned = next;
    }
    if (callbacks.on_owners_changed) callbacks.on_owners_changed(next);
  }

  // Fencing: an owner that could not renew its lease for 3/4 of the TTL stops its exclusive
  // bindings before etcd can expire the lease (at the earliest a TTL after the last renewal
  // it took) and another instance can take them over.
  void Fence(std::chrono::steady_clock::duration since_renewal) {
    if (since_renewal < std::chrono::duration_cast<std::chrono::milliseconds>(config.lease_ttl) * 3 / 4) return;
    std::set<std::string> dropped;
    {
      std::lock_guard<std::mutex> lock(mu);
      dropped = owned;
    }
    if (dropped.empty()) return;
    for (const auto& b : dropped) {
      spdlog::error("fleet: cannot renew the lease with etcd; stopping exclusive binding '{}' so another instance "
                    "may take it over", b);
    }
    SetOwned({});
  }

  // Competes for each candidate's ownership (created only if no instance holds it, under the
  // membership lease) and gives up those that are no longer candidates.
  Status Elect(EtcdClient& client, int64_t lease) {
    std::vector<std::string> list = callbacks.candidates ? callbacks.candidates() : std::vector<std::string>();
    std::set<std::string> want(list.begin(), list.end()), next;
    {
      std::lock_guard<std::mutex> lock(mu);
      next = owned;
    }
    for (auto it = next.begin(); it != next.end();) {
      if (want.count(*it)) {
        ++it;
        continue;
      }
      Status s = client.Delete(OwnerKey(config, *it));
      if (!s.ok()) return s;
      it = next.erase(it);
    }
    Status result;
    for (const auto& b : want) {
      if (next.count(b)) continue;
      // A read first: while another instance owns the binding (every round of every other
      // candidate) that is all it costs etcd, no transaction through the Raft log.
      auto held = HeldUnder(client, b, lease);
      Result<bool> won = held.ok() ? Result<bool>(held->value_or(false)) : Result<bool>(held.status());
      if (held.ok() && !held->has_value()) won = client.PutIfAbsent(OwnerKey(config, b), name, lease);
      if (!won.ok()) {
        result = won.status();
        break;
      }
      if (*won) {
        spdlog::info("fleet: this instance now runs exclusive binding '{}'", b);
        next.insert(b);
      }
    }
    SetOwned(std::move(next));
    return result;
  }

  // Whether the ownership key of `binding` is this instance's under `lease` (nullopt: nobody
  // holds it). After Fence() gave a binding up, a lease that outlived the cut (etcd renews
  // every lease when a new leader is elected) still holds the key, which nobody else can take
  // until it expires: then it is this instance's again.
  Result<std::optional<bool>> HeldUnder(EtcdClient& client, const std::string& binding, int64_t lease) {
    auto kv = client.Get(OwnerKey(config, binding));
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) return std::optional<bool>();
    return std::optional<bool>((*kv)->value == name && (*kv)->lease == lease);
  }

  // Publishes every queued push: the delivery claim and the push key in one transaction, so
  // a delivery costs one request (and one Raft entry), plus a lease grant every half hour.
  Status PublishQueued(EtcdClient& client, int64_t* lease, std::chrono::steady_clock::time_point* until) {
    for (bool retried = false;;) {
      Queued q;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (queue.empty()) return Status::Ok();
        q = queue.front();
      }
      const FleetPush& p = q.push;
      if (*lease == 0 || std::chrono::steady_clock::now() >= *until) {
        auto granted = client.GrantLease(kPushLeaseTtl);
        if (!granted.ok()) return granted.status();
        *lease = *granted;
        *until = std::chrono::steady_clock::now() + kPushLeaseTtl / 2;
      }
      Status s;
      bool fresh = true;
      EtcdKv push{PushKey(config, p.remote, p.branch), PushToJson(p), 0, 0, *lease};
      EtcdKv pack{PackKey(config, p.remote, p.branch), p.relay_pack, 0, 0, *lease};
      bool own_key = !p.relay_mac.empty() && !PackInline(p);  // the pack in packs/<hash>
      if (!p.delivery.empty()) {
        auto claimed = client.PutIfAbsent(DeliveryKey(config, p), name, *lease,
                                          own_key ? std::vector<EtcdKv>{pack, push} : std::vector<EtcdKv>{push});
        s = claimed.status();
        fresh = claimed.ok() && *claimed;
      } else {
        if (own_key) s = client.Put(pack.key, pack.value, *lease);  // first: the push's watchers read it
        if (s.ok()) s = client.Put(push.key, push.value, *lease);
      }
      if (s.code() == Status::Code::kNotFound && !retried) {  // the lease expired (etcd was cut off)
        *lease = 0;
        retried = true;
        continue;
      }
      if (!s.ok()) return s;
      retried = false;
      if (fresh) {
        spdlog::debug("fleet: published the push of {} {} ({}{}) {} ms after it was queued", p.branch,
                      p.commit.substr(0, 12), p.reason,
                      p.relay_mac.empty() ? ""
                                          : ", relayed pack of " + std::to_string(p.relay_pack.size()) + " bytes" +
                                                (own_key ? " in its own key" : " in the record"),
                      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - q.at).count());
      } else {
        spdlog::info("fleet: delivery {} was already published by the fleet; not again", p.delivery);
      }
      std::lock_guard<std::mutex> lock(mu);
      queue.pop_front();
    }
  }

  // The relayed pack of `p` when this instance serves its branch: the one the record brought,
  // else read as of the push's revision (a later push may have replaced it since); left empty
  // on any failure (the instance then fetches).
  void ReadRelayedPack(EtcdClient& reader, FleetPush* p) {
    if (p->relay_mac.empty() || !callbacks.serves || !callbacks.serves(p->remote, p->branch)) {
      p->relay_pack.clear();
      return;
    }
    if (!p->relay_pack.empty()) return;
    auto kv = reader.Get(PackKey(config, p->remote, p->branch), p->revision);
    if (kv.ok() && kv->has_value() && (*kv)->mod_revision == p->revision) {
      p->relay_pack = std::move((*kv)->value);
    } else {
      spdlog::warn("fleet: cannot read the relayed pack of {} {} (revision {}): {}; fetching instead", p->branch,
                   p->commit.substr(0, 12), p->revision, kv.ok() ? "not in etcd" : kv.status().message());
    }
  }

  // The watch loop: every push another instance publishes reaches on_push once; after a
  // broken watch it resumes from the next revision, so none is missed while etcd keeps it.
  void Watch() {
    EtcdClientOptions o = client_options;
    EtcdClient client(o);
    EtcdClient reader(o);  // the watch holds `client`'s connection
    int64_t from = 0;
    std::chrono::milliseconds backoff{500};
    while (!stop) {
      auto next = client.Watch(PushesPrefix(config), from, kWatchIdle, [&](const EtcdEvent& e) {
        if (e.deleted) return true;
        auto p = PushFromJson(e.kv.value);
        if (p.ok() && !p->commit.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          view.heads[p->remote + "\n" + p->branch] = p->commit;  // events come in revision order
        }
        if (p.ok() && p->from != name && callbacks.on_push) {
          spdlog::debug("fleet: heard the push of {} {} from {} (revision {})", p->branch, p->commit.substr(0, 12),
                        p->from, e.kv.mod_revision);
          p->revision = e.kv.mod_revision;
          ReadRelayedPack(reader, &*p);
          callbacks.on_push(*p);
        }
        return !stop.load();
      });
      if (next.ok()) {
        from = *next;
        backoff = std::chrono::milliseconds(500);
        continue;
      }
      if (stop) break;
      if (next.status().message().find("compacted") != std::string::npos) from = 0;
      Failed("etcd watch " + client.endpoint(), next.status());
      Backoff(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
    }
  }
};

Fleet::Fleet(ClusterConfig config, std::string instance, EtcdClientOptions client, Callbacks callbacks)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->name = std::move(instance);
  impl_->client_options = std::move(client);
  impl_->client_options.stop = &impl_->stop;
  // A request must end well within the lease, so that fencing (Fence) acts in time.
  impl_->client_options.timeout =
      std::min(impl_->client_options.timeout,
               std::chrono::duration_cast<std::chrono::milliseconds>(impl_->config.lease_ttl) / 4);
  impl_->callbacks = std::move(callbacks);
  impl_->session = std::thread([this] { impl_->Session(); });
  impl_->watcher = std::thread([this] { impl_->Watch(); });
}

Fleet::~Fleet() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  impl_->watcher.join();
  impl_->session.join();
}

void Fleet::Publish(FleetPush push) {
  if (push.time.empty()) push.time = Now();
  if (push.from.empty()) push.from = impl_->name;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->queue.size() >= kMaxQueuedPushes) {
      spdlog::warn("fleet: {} pushes wait for etcd; dropping the oldest (polling catches it up)", kMaxQueuedPushes);
      impl_->queue.pop_front();
    }
    // Relayed packs are worth a few seconds; while etcd is away they only take memory.
    size_t packs = 0;
    for (const auto& q : impl_->queue) packs += q.push.relay_pack.size();
    if (packs + push.relay_pack.size() > kMaxQueuedPackBytes) {
      push.relay_pack.clear();
      push.relay_mac.clear();
      push.relay_base.clear();
    }
    impl_->queue.push_back({std::move(push), std::chrono::steady_clock::now()});
  }
  impl_->wake.notify_all();
}

bool Fleet::registered() const { return impl_->live; }

std::set<std::string> Fleet::Owned() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->owned;
}

FleetView Fleet::View() const {
  constexpr int64_t kWantedForMs = 30000;
  impl_->view_wanted_until = Impl::SteadyMs() + kWantedForMs;
  std::lock_guard<std::mutex> lock(impl_->mu);
  FleetView v = impl_->view;
  v.error = impl_->error;
  return v;
}

std::string Fleet::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->error;
}

}  // namespace gitsyncd
