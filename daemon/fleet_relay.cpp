#include "daemon/fleet_relay.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "daemon/fleet_link.h"
#include "sync/shared_store.h"

namespace gitsyncd {
namespace {

using Clock = std::chrono::steady_clock;

// One thread running queued jobs in order. A job that does not fit (the queue is bounded) or
// is left when the worker stops gets its fallback instead, run by the caller: the path
// without a relay, which never blocks.
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  ~Worker() { Stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Post(std::function<void()> job, std::function<void()> fallback) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_ && jobs_.size() < kMaxQueued) {
        jobs_.push_back({std::move(job), std::move(fallback)});
        wake_.notify_one();
        return;
      }
    }
    fallback();
  }
  void Stop() {
    std::deque<Job> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      left.swap(jobs_);
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto& j : left) j.fallback();
  }

 private:
  static constexpr size_t kMaxQueued = 256;
  struct Job {
    std::function<void()> run, fallback;
  };
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      Job j = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      j.run();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

std::optional<git_oid> ParseOid(const std::string& hex) {
  git_oid id;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&id, hex.c_str()) < 0) return std::nullopt;
  return id;
}

}  // namespace

struct FleetRelay::Impl {
  RelayKey key;
  std::string prefix;  // cluster.prefix, for naming records in the log
  ClusterConfig cluster;
  // Fetches may take up to io_timeout: they must not hold back the consumers' relays.
  Worker producer, consumer;

  explicit Impl(RelayKey k) : key(std::move(k)) {}

  // The receiver's job: its fetch, then the push with the pack when there is one to give.
  void Produce(SyncEngine& engine, const std::string& binding, Clock::time_point asked, FleetPush push, Fleet* fleet) {
    std::optional<BindingSpec> spec = engine.Spec(binding);
    if (spec && !spec->api && !spec->shared_store.empty()) {
      auto source = FetchForRelay({spec->shared_store, spec->connector, spec->branch, asked}, spec->remote,
                                  kMaxRelayPackBytes);
      std::string head = source.ok() && source->head ? OidHex(*source->head) : "";
      if (!source.ok()) {
        spdlog::warn("fleet: relay of {} {}: {}; the push goes out without objects", push.branch,
                     push.commit.substr(0, 12), source.status().message());
      } else if (!source->pack) {
        spdlog::info("fleet: relay of {} {}: the new objects exceed {} KiB; the push goes out without them",
                     push.branch, head.substr(0, 12), kMaxRelayPackBytes / 1024);
      } else if (!head.empty() && (push.commit.empty() || push.commit == head)) {
        push.commit = head;
        push.relay_base = source->base ? OidHex(*source->base) : "";
        push.relay_pack = std::move(*source->pack);
        push.relay_mac = key.Mac({push.remote, push.branch, push.relay_base, push.commit, push.relay_pack});
      }
    }
    fleet->Publish(std::move(push));
  }

  // One binding's relay: Ok when its next pass takes the relayed head.
  Status Accept(const SyncEngine& engine, const std::string& binding, const FleetPush& push, Clock::time_point at) {
    std::optional<BindingSpec> spec = engine.Spec(binding);
    if (!spec || spec->api || spec->shared_store.empty()) return Status::Unavailable("the binding fetches on its own");
    auto commit = ParseOid(push.commit);
    std::optional<git_oid> base = ParseOid(push.relay_base);
    if (!commit || (!push.relay_base.empty() && !base)) return Status::InvalidArgument("malformed commit ids");
    return AcceptRelayedHead({spec->shared_store, spec->connector, spec->branch, at}, base, *commit, push.relay_pack);
  }

  void Consume(SyncEngine& engine, const FleetPush& push, const std::vector<std::string>& bindings) {
    auto at = Clock::now();
    std::string record = PushKey(cluster, push.remote, push.branch) + " (revision " + std::to_string(push.revision) + ")";
    std::string reason = "fleet: " + push.reason + " received by " + push.from;
    if (!key.Verify({push.remote, push.branch, push.relay_base, push.commit, push.relay_pack}, push.relay_mac)) {
      spdlog::warn("fleet: refused the relayed objects of {} {} in {}, published as from {}: their MAC does not match "
                   "cluster.relay_key; fetching from the remote instead",
                   push.branch, push.commit.substr(0, 12), record, push.from);
      for (const auto& b : bindings) engine.TriggerRemote(b, reason);
      return;
    }
    for (const auto& b : bindings) {
      Status accepted = Accept(engine, b, push, at);
      if (accepted.ok()) {
        spdlog::debug("sync '{}': relayed {} from {} taken ({} bytes)", b, push.commit.substr(0, 12), record,
                      push.relay_pack.size());
        engine.TriggerRemote(b, reason + ", objects relayed", at);
      } else {
        spdlog::info("sync '{}': relayed objects of {} not taken ({}); fetching instead", b, record, accepted.message());
        engine.TriggerRemote(b, reason);
      }
    }
  }
};

FleetRelay::FleetRelay(RelayKey key) : impl_(std::make_unique<Impl>(std::move(key))) {}
FleetRelay::~FleetRelay() { Stop(); }

void FleetRelay::Stop() {
  impl_->producer.Stop();
  impl_->consumer.Stop();
}

Result<std::unique_ptr<FleetRelay>> FleetRelay::Start(const Config& config, const SecretStore* store) {
  const ClusterConfig& c = config.daemon.cluster;
  if (!c.configured || !c.relay_key.present()) return std::unique_ptr<FleetRelay>();
  std::string where = c.relay_key.where.ToString() + ": cluster.relay_key";
  auto secret = ResolveSecret(c.relay_key, store, config.dir);
  if (!secret.ok()) return secret.status().WithContext("cluster.relay_key");
  auto key = RelayKey::FromSecret(*secret, where);
  if (!key.ok()) return key.status();
  std::unique_ptr<FleetRelay> relay(new FleetRelay(std::move(*key)));
  relay->impl_->cluster = c;
  return relay;
}

void FleetRelay::Produce(std::shared_ptr<SyncEngine> engine, const std::string& binding, Clock::time_point asked,
                         FleetPush push, Fleet* fleet) {
  auto shared = std::make_shared<FleetPush>(std::move(push));
  impl_->producer.Post([this, engine, binding, asked, shared, fleet] { impl_->Produce(*engine, binding, asked, *shared, fleet); },
                       [shared, fleet] { fleet->Publish(*shared); });
}

void FleetRelay::Consume(const Config& config, std::shared_ptr<SyncEngine> engine, FleetPush push) {
  if (push.relay_pack.empty()) {
    TriggerFleetPush(config, *engine, push);
    return;
  }
  std::vector<std::string> bindings = BindingsForPush(config, *engine, push);
  if (bindings.empty()) return;
  auto reason = "fleet: " + push.reason + " received by " + push.from;
  auto shared = std::make_shared<FleetPush>(std::move(push));
  impl_->consumer.Post([this, engine, shared, bindings] { impl_->Consume(*engine, *shared, bindings); },
                       [engine, bindings, reason] {
                         for (const auto& b : bindings) engine->TriggerRemote(b, reason);
                       });
}

}  // namespace gitsyncd
