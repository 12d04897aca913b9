#include "webhooks/delivery_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "webhooks/json_text.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// One record as a JSON object (the members ReadFile reads back).
void AppendJson(std::string& out, const DeliveryRecord& r) {
  out += '{';
  AppendJsonMember(out, "time", r.time);
  AppendJsonMember(out, "connector", r.connector);
  AppendJsonMember(out, "provider", r.provider);
  AppendJsonMember(out, "event", r.event);
  AppendJsonMember(out, "delivery_id", r.delivery_id);
  out += ",\"status\":";
  out += std::to_string(r.status);
  AppendJsonMember(out, "verdict", r.verdict);
  AppendJsonMember(out, "detail", r.detail);
  out += ",\"queued\":[";
  for (size_t i = 0; i < r.queued.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, r.queued[i]);
  }
  out += ']';
  AppendJsonMember(out, "remote", r.remote);
  out += '}';
}

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

DeliveryRecord FromJson(const json::object& o) {
  DeliveryRecord r;
  r.time = Str(o, "time");
  r.connector = Str(o, "connector");
  r.provider = Str(o, "provider");
  r.event = Str(o, "event");
  r.delivery_id = Str(o, "delivery_id");
  if (auto* s = o.if_contains("status"); s && s->is_int64()) r.status = static_cast<int>(s->as_int64());
  r.verdict = Str(o, "verdict");
  r.detail = Str(o, "detail");
  if (auto* q = o.if_contains("queued"); q && q->is_array()) {
    for (const auto& v : q->as_array()) {
      if (v.is_string()) r.queued.emplace_back(v.as_string());
    }
  }
  r.remote = Str(o, "remote");
  return r;
}

}  // namespace

json::object DeliveryRecordJson(const DeliveryRecord& r) {
  json::array queued;
  for (const auto& b : r.queued) queued.emplace_back(b);
  return json::object{{"time", r.time},       {"connector", r.connector},     {"provider", r.provider},
                      {"event", r.event},     {"delivery_id", r.delivery_id}, {"status", r.status},
                      {"verdict", r.verdict}, {"detail", r.detail},           {"queued", std::move(queued)},
                      {"remote", r.remote}};
}

std::vector<DeliveryRecord> DeliveryLog::Recent(const std::string& connector_id, size_t n) const {
  std::vector<DeliveryRecord> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(connector_id);
  if (it == records_.end()) return out;
  for (auto r = it->second.rbegin(); r != it->second.rend() && out.size() < n; ++r) out.push_back(**r);
  return out;
}

std::string DeliveryLog::NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char buf[40];
  std::tm tm{};
  gmtime_r(&t, &tm);  // the listener's threads call this concurrently
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

Result<std::vector<DeliveryRecord>> DeliveryLog::ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no delivery record at " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_array()) return Status::Corrupted(path + ": not a delivery record (expected a JSON array)");
  std::vector<DeliveryRecord> out;
  for (const auto& e : v.as_array()) {
    if (e.is_object()) out.push_back(FromJson(e.as_object()));
  }
  return out;
}

DeliveryLog::DeliveryLog(std::string dir, size_t per_connector, std::chrono::milliseconds batch)
    : dir_(std::move(dir)), limit_(per_connector), batch_(batch) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto records = ReadFile(entry.path().string());
    if (!records.ok()) {
      spdlog::warn("webhooks: {}; starting a fresh record for it", records.status().message());
      continue;
    }
    std::string id = entry.path().stem().string();
    auto& dq = records_[id];
    for (auto& r : *records) {
      if (!r.delivery_id.empty() && (r.verdict == "queued" || r.verdict == "ignored" || r.verdict == "ping")) {
        claimed_[id].ids.insert(r.delivery_id);
        claimed_[id].order.push_back(r.delivery_id);
      }
      dq.push_back(std::make_shared<const DeliveryRecord>(std::move(r)));
    }
    while (dq.size() > limit_) dq.pop_front();
  }
  writer_ = std::thread([this] { Writer(); });
}

DeliveryLog::~DeliveryLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

bool DeliveryLog::Claim(const std::string& connector_id, const std::string& delivery_id) {
  if (delivery_id.empty()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  Claimed& c = claimed_[connector_id];
  if (!c.ids.insert(delivery_id).second) return false;
  c.order.push_back(delivery_id);
  while (c.order.size() > limit_ * 4) {
    c.ids.erase(c.order.front());
    c.order.pop_front();
  }
  return true;
}

void DeliveryLog::Add(const std::string& connector_id, DeliveryRecord record) {
  auto shared = std::make_shared<const DeliveryRecord>(std::move(record));
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& dq = records_[connector_id];
    dq.push_back(std::move(shared));
    while (dq.size() > limit_) dq.pop_front();
    dirty_.insert(connector_id);
    // Only the first change wakes the writer; later ones join the pending batch for free.
    wake = writer_idle_;
    writer_idle_ = false;
  }
  if (wake) cv_.notify_one();
}

void DeliveryLog::Flush() {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::map<std::string, Records> work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : dirty_) work[id] = records_[id];  // shared pointers: no deep copy under the lock
    dirty_.clear();
  }
  for (const auto& [id, records] : work) WriteOne(id, records);
}

void DeliveryLog::Writer() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    writer_idle_ = true;
    cv_.wait(lock, [this] { return stop_ || !dirty_.empty(); });
    writer_idle_ = false;
    if (stop_) break;
    // Gather a burst into one write per connector. Adds do not wake this wait (only stop does).
    cv_.wait_for(lock, batch_, [this] { return stop_; });
    lock.unlock();
    Flush();
    lock.lock();
  }
  lock.unlock();
  Flush();
}

void DeliveryLog::WriteOne(const std::string& id, const Records& records) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::string text = "[";
  text.reserve(records.size() * 320);
  for (const auto& r : records) {
    if (text.size() > 1) text += ',';
    AppendJson(text, *r);
  }
  text += "]\n";
  std::string path = dir_ + "/" + id + ".json";
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (!ok) {
    spdlog::warn("webhooks: cannot write delivery record {}: {}", tmp, std::strerror(errno));
    return;
  }
  // Swapping the two names keeps both inodes for the next write: at a write every 10 ms,
  // creating and deleting a file each time costs more than the write (ext4 inode allocation).
  // The swap is atomic like a rename; where it is not supported, rename.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) return;
  if (errno != ENOENT && errno != EINVAL && errno != ENOSYS) {
    spdlog::warn("webhooks: cannot replace {}: {}", path, std::strerror(errno));
    return;
  }
  fs::rename(tmp, path, ec);
  if (ec) spdlog::warn("webhooks: cannot replace {}: {}", path, ec.message());
}

}  // namespace gitsyncd
