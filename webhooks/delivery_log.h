// The record of recent webhook deliveries per connector: what arrived, whether it was
// accepted, and what it queued or why not, so an operator can see why a push did or did not
// sync (`gitsyncd events`). Adding a record only touches memory; a background thread writes
// each changed connector's record to <dir>/<connector-id>.json (atomic rename), so the HTTP
// threads never wait for the disk. Also recognises redeliveries by delivery id.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/status.h"

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

class DeliveryLog {
 public:
  // Loads the records kept in `dir`; keeps at most `per_connector` per connector.
  explicit DeliveryLog(std::string dir, size_t per_connector = 100);
  ~DeliveryLog();  // writes what is pending
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // True the first time an accepted delivery id is seen for a connector, false for a
  // redelivery. Empty ids are never duplicates.
  bool Claim(const std::string& connector_id, const std::string& delivery_id);
  void Add(const std::string& connector_id, DeliveryRecord record);
  void Flush();  // writes pending changes now

  // Reads one connector's record file (for the CLI, without a running daemon).
  static Result<std::vector<DeliveryRecord>> ReadFile(const std::string& path);
  static std::string NowRfc3339();

 private:
  void Writer();
  void WriteOne(const std::string& id, const std::deque<DeliveryRecord>& records);

  std::string dir_;
  size_t limit_;
  mutable std::mutex mu_;
  std::mutex write_mu_;  // one writer at a time, so an older copy never lands last
  std::condition_variable cv_;
  std::map<std::string, std::deque<DeliveryRecord>> records_;
  struct Claimed {
    std::set<std::string> ids;
    std::deque<std::string> order;  // oldest first, bounded
  };
  std::map<std::string, Claimed> claimed_;
  std::set<std::string> dirty_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace gitsyncd
