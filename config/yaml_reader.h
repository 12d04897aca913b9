// Typed, located reading of YAML maps for the config loader. Every problem becomes a
// ConfigError "<file>:<line>:<col>: <key>: <message>"; reading continues so that one run
// reports every problem. Unknown keys are reported with a "did you mean" hint.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"

namespace gitsyncd {

// The longest duration any key accepts: ten years (keys have their own, tighter, limits).
inline constexpr uint64_t kMaxDurationSeconds = 3650ull * 86400;

// "90s", "5m", "1h30m", "2m30s", "1d" or plain seconds: parts from the largest unit down
// (d, h, m, s), each at most once. The error message names what is wrong; the caller adds
// the file:line and key.
Result<std::chrono::seconds> ParseDuration(const std::string& text);

class ErrorSink {
 public:
  ErrorSink(std::string file, std::vector<ConfigError>* errors) : file_(std::move(file)), errors_(errors) {}
  void Add(const YAML::Node& at, const std::string& key, std::string message);
  void Add(const SourceLocation& at, const std::string& key, std::string message);
  SourceLocation Where(const YAML::Node& node) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ConfigError>* errors_;
};

class YamlMap {
 public:
  // `prefix` is the dotted key path of this map ("" at the top, "auth", "syncs[0]").
  // A node that is not a map is reported once and reads as empty.
  YamlMap(const YAML::Node& node, std::string prefix, ErrorSink* sink,
          std::vector<std::string> allowed_keys);

  bool valid() const { return valid_; }
  bool Has(const std::string& key) const;
  SourceLocation Where() const { return sink_->Where(node_); }
  SourceLocation WhereKey(const std::string& key) const;
  std::string KeyPath(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  ErrorSink* sink() const { return sink_; }

  YAML::Node Get(const std::string& key) const;
  std::optional<std::string> String(const std::string& key, bool required = false);
  std::optional<bool> Bool(const std::string& key);
  std::optional<uint64_t> Unsigned(const std::string& key, uint64_t min, uint64_t max);
  // A duration as ParseDuration reads it.
  std::optional<std::chrono::seconds> Duration(const std::string& key);
  // Bytes: plain integer or with KiB/MiB/GiB.
  std::optional<uint64_t> Size(const std::string& key);
  // {secret: NAME} | {file: PATH} | {env: VAR}; a plain string is refused.
  SecretRef Secret(const std::string& key);
  // One of `choices` (reported with the full list otherwise).
  std::optional<std::string> Choice(const std::string& key, const std::vector<std::string>& choices);

 private:
  YAML::Node node_;
  std::string prefix_;
  ErrorSink* sink_;
  bool valid_ = true;
};

}  // namespace gitsyncd
