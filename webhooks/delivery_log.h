// The record of recent webhook deliveries per connector: what arrived, whether it was
// accepted, and what it queued or why not, so an operator can see why a push did or did not
// sync (`gitsyncd events`). Also recognises redeliveries by delivery id.
//
// Adding a record only touches memory (no syscall, no wake-up while a write is pending): a
// background thread, woken by the first change, waits `batch` (10 ms) to gather more, then
// rewrites each changed connector's <dir>/<connector-id>.json (a temp file swapped in
// atomically). So a record is in the file at most `batch` plus one write after it was added:
// a crash or SIGKILL of the daemon loses at most that window, a normal stop (destructor,
// Flush) loses nothing. The file is never torn; it is not fsynced, so after a power failure
// it may be an older version (a redelivery of those deliveries would be processed again,
// which only costs a fetch).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct DeliveryRecord {
  std::string time;         // RFC 3339 UTC, millisecond precision
  std::string connector;    // display name
  std::string provider;     // sender format ("github", "bitbucket-server", ...) or "" if unknown
  std::string event;
  std::string delivery_id;
  int status = 0;           // HTTP status we answered
  std::string verdict;      // "queued", "ignored", "ping", "duplicate", "refused", "invalid"
  std::string detail;       // why, in words
  std::vector<std::string> queued;  // bindings a pull was queued for
  std::string remote;       // client address
};

// A record as `gitsyncd events --json` and the operator API's status print it.
boost::json::object DeliveryRecordJson(const DeliveryRecord& r);

class DeliveryLog {
 public:
  // Loads the records kept in `dir`; keeps at most `per_connector` per connector.
  explicit DeliveryLog(std::string dir, size_t per_connector = 100,
                       std::chrono::milliseconds batch = std::chrono::milliseconds(10));
  ~DeliveryLog();  // writes what is pending
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // True the first time an accepted delivery id is seen for a connector, false for a
  // redelivery. Empty ids are never duplicates.
  bool Claim(const std::string& connector_id, const std::string& delivery_id);
  void Add(const std::string& connector_id, DeliveryRecord record);
  void Flush();  // writes pending changes now
  // A connector's last `n` records, newest first, from memory.
  std::vector<DeliveryRecord> Recent(const std::string& connector_id, size_t n) const;

  // Reads one connector's record file (for the CLI, without a running daemon).
  static Result<std::vector<DeliveryRecord>> ReadFile(const std::string& path);
  // Where the daemon keeps them: <state_dir>/webhooks/deliveries, one <connector-id>.json each.
  static std::string Dir(const std::string& state_dir) { return state_dir + "/webhooks/deliveries"; }
  static std::string NowRfc3339();

 private:
  using Records = std::deque<std::shared_ptr<const DeliveryRecord>>;  // a copy is cheap
  void Writer();
  void WriteOne(const std::string& id, const Records& records);

  std::string dir_;
  size_t limit_;
  std::chrono::milliseconds batch_;
  mutable std::mutex mu_;
  std::mutex write_mu_;  // one writer at a time, so an older copy never lands last
  std::condition_variable cv_;
  bool writer_idle_ = false;  // the writer waits for a first change (only then is it woken)
  std::map<std::string, Records> records_;
  struct Claimed {
    std::unordered_set<std::string> ids;
    std::deque<std::string> order;  // oldest first, bounded
  };
  std::map<std::string, Claimed> claimed_;
  std::set<std::string> dirty_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace gitsyncd
