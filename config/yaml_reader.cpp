#include "config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "config/name_rules.h"

namespace gitsyncd {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += i + 1 == v.size() ? " or " : ", ";
    out += "'" + v[i] + "'";
  }
  return out;
}

std::string ClosestKey(const std::string& key, const std::vector<std::string>& allowed) {
  std::string best;
  size_t best_d = 3;  // only hint for close misspellings
  for (const auto& a : allowed) {
    size_t d = EditDistance(key, a);
    if (d < best_d || (d == best_d && best.empty() && d <= std::max<size_t>(1, a.size() / 3))) {
      if (d <= std::max<size_t>(2, a.size() / 3)) {
        best = a;
        best_d = d;
      }
    }
  }
  return best;
}

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "empty";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "undefined";
  }
}

}  // namespace

Result<std::chrono::seconds> ParseDuration(const std::string& text) {
  const std::string junk = "expected a duration like 30s, 5m, 1h30m, 1d or a number of seconds, found '" + text + "'";
  // Units from the largest down; each may appear once, in this order ("1h30m", not "30m1h").
  static const std::vector<std::pair<char, uint64_t>> kUnits = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  bool all_digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (all_digits) {
    if (text.size() > 9) return Status::InvalidArgument("duration '" + text + "' is too long (at most 3650d)");
    uint64_t v = std::stoull(text);
    if (v > kMaxDurationSeconds) return Status::InvalidArgument("duration '" + text + "' is too long (at most 3650d)");
    return std::chrono::seconds(v);
  }
  uint64_t total = 0;
  size_t next_unit = 0;  // index in kUnits the next part's unit may start at
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = 0;
    while (i + digits < text.size() && std::isdigit(static_cast<unsigned char>(text[i + digits]))) ++digits;
    if (digits == 0 || i + digits == text.size()) return Status::InvalidArgument(junk);
    char unit = text[i + digits];
    auto it = std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == unit; });
    if (it == kUnits.end()) return Status::InvalidArgument(junk);
    size_t index = static_cast<size_t>(it - kUnits.begin());
    if (index < next_unit) {
      return Status::InvalidArgument("duration '" + text +
                                     "': units go from the largest to the smallest, each once (d, h, m, s), as in 1h30m");
    }
    if (digits > 9) return Status::InvalidArgument("duration '" + text + "' is too long (at most 3650d)");
    total += std::stoull(text.substr(i, digits)) * it->second;  // at most 9 digits * 86400 * 4: no overflow
    if (total > kMaxDurationSeconds) return Status::InvalidArgument("duration '" + text + "' is too long (at most 3650d)");
    next_unit = index + 1;
    i += digits + 1;
  }
  return std::chrono::seconds(total);
}

void ErrorSink::Add(const YAML::Node& at, const std::string& key, std::string message) {
  Add(Where(at), key, std::move(message));
}

void ErrorSink::Add(const SourceLocation& at, const std::string& key, std::string message) {
  errors_->push_back(ConfigError{at, key, std::move(message)});
}

SourceLocation ErrorSink::Where(const YAML::Node& node) const {
  SourceLocation loc{file_, 0, 0};
  if (node.IsDefined()) {
    YAML::Mark m = node.Mark();
    if (!m.is_null()) {
      loc.line = m.line + 1;
      loc.column = m.column + 1;
    }
  }
  return loc;
}

YamlMap::YamlMap(const YAML::Node& node, std::string prefix, ErrorSink* sink,
                 std::vector<std::string> allowed_keys)
    : node_(node), prefix_(std::move(prefix)), sink_(sink) {
  if (!node.IsMap()) {
    valid_ = false;
    if (!node.IsNull()) {
      sink_->Add(node, prefix_.empty() ? "(top level)" : prefix_,
                 std::string("expected a map of keys, found ") + KindName(node));
    }
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      sink_->Add(kv.first, prefix_, "keys must be plain strings");
      continue;
    }
    std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      sink_->Add(kv.first, KeyPath(key), "duplicate key");
      continue;
    }
    if (std::find(allowed_keys.begin(), allowed_keys.end(), key) == allowed_keys.end()) {
      std::string hint = ClosestKey(key, allowed_keys);
      sink_->Add(kv.first, KeyPath(key),
                 "unknown key '" + key + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
  }
}

bool YamlMap::Has(const std::string& key) const {
  return valid_ && node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Node YamlMap::Get(const std::string& key) const {
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  return node_[key];
}

SourceLocation YamlMap::WhereKey(const std::string& key) const {
  if (!valid_) return Where();
  for (const auto& kv : node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return sink_->Where(kv.first);
  }
  return Where();
}

std::optional<std::string> YamlMap::String(const std::string& key, bool required) {
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required && valid_) sink_->Add(node_, KeyPath(key), "required key is missing");
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    sink_->Add(n, KeyPath(key), std::string("expected a string, found ") + KindName(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<bool> YamlMap::Bool(const std::string& key) {
  auto s = String(key);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  sink_->Add(Get(key), KeyPath(key), "expected true or false, found '" + *s + "'");
  return std::nullopt;
}

std::optional<uint64_t> YamlMap::Unsigned(const std::string& key, uint64_t min, uint64_t max) {
  auto s = String(key);
  if (!s) return std::nullopt;
  uint64_t v = 0;
  bool ok = !s->empty() && s->size() <= 19 &&
            std::all_of(s->begin(), s->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (ok) v = std::stoull(*s);
  if (!ok || v < min || v > max) {
    sink_->Add(Get(key), KeyPath(key),
               "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                   ", found '" + *s + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::seconds> YamlMap::Duration(const std::string& key) {
  auto s = String(key);
  if (!s) return std::nullopt;
  auto parsed = ParseDuration(*s);
  if (!parsed.ok()) {
    sink_->Add(Get(key), KeyPath(key), parsed.status().message());
    return std::nullopt;
  }
  return *parsed;
}

std::optional<uint64_t> YamlMap::Size(const std::string& key) {
  auto s = String(key);
  if (!s) return std::nullopt;
  size_t digits = 0;
  while (digits < s->size() && std::isdigit(static_cast<unsigned char>((*s)[digits]))) ++digits;
  std::string unit = s->substr(digits);
  static const std::vector<std::pair<std::string, uint64_t>> kUnits = {
      {"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024ull * 1024 * 1024}};
  auto it = std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == unit; });
  if (digits == 0 || digits > 12 || it == kUnits.end()) {
    sink_->Add(Get(key), KeyPath(key), "expected a size like 5MiB, 512KiB or a number of bytes, found '" + *s + "'");
    return std::nullopt;
  }
  return std::stoull(s->substr(0, digits)) * it->second;
}

std::optional<std::string> YamlMap::Choice(const std::string& key, const std::vector<std::string>& choices) {
  auto s = String(key);
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
    sink_->Add(Get(key), KeyPath(key), "'" + *s + "' is not one of " + Join(choices));
    return std::nullopt;
  }
  return s;
}

SecretRef YamlMap::Secret(const std::string& key) {
  SecretRef ref;
  YAML::Node n = Get(key);
  if (!n.IsDefined() || n.IsNull()) return ref;
  ref.where = sink_->Where(n);
  if (!n.IsMap()) {
    sink_->Add(n, KeyPath(key),
               "secret values never appear in YAML; use {secret: NAME}, {file: PATH} or {env: VAR}");
    return ref;
  }
  YamlMap m(n, KeyPath(key), sink_, {"secret", "file", "env"});
  int kinds = 0;
  for (const auto& [name, kind] : {std::pair{"secret", SecretRef::Kind::kStore},
                                   std::pair{"file", SecretRef::Kind::kFile},
                                   std::pair{"env", SecretRef::Kind::kEnv}}) {
    if (!m.Has(name)) continue;
    ++kinds;
    if (auto v = m.String(name)) {
      if (v->empty()) {
        sink_->Add(m.Get(name), m.KeyPath(name), "must not be empty");
      } else {
        ref.kind = kind;
        ref.value = *v;
      }
    }
  }
  if (kinds != 1) {
    sink_->Add(n, KeyPath(key), "give exactly one of secret:, file: or env:");
    ref.kind = SecretRef::Kind::kNone;
  }
  return ref;
}

}  // namespace gitsyncd
