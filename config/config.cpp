#include "config/config.h"

#include "config/hex.h"

#include <sodium.h>

#include <cstdlib>
#include <optional>

namespace gitsyncd {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const ConnectorConfig* Config::FindConnector(std::string_view name) const {
  for (const auto& c : connectors) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string_view UrlTypeName(UrlType t) { return t == UrlType::kAccount ? "account" : "repo"; }

std::string_view FetchModeName(FetchMode m) { return m == FetchMode::kApi ? "api" : "git"; }

std::string_view SyncDirectionName(SyncDirection d) {
  switch (d) {
    case SyncDirection::kPush: return "push";
    case SyncDirection::kPull: return "pull";
    case SyncDirection::kBidirectional: return "bidirectional";
  }
  return "?";
}

std::string_view ConflictPolicyName(ConflictPolicy p) {
  switch (p) {
    case ConflictPolicy::kKeepBoth: return "keep-both";
    case ConflictPolicy::kPreferRemote: return "prefer-remote";
    case ConflictPolicy::kPreferLocal: return "prefer-local";
  }
  return "?";
}

Result<std::string> MasterKeyPath(const DaemonConfig& daemon) {
  std::string path = daemon.master_key.empty() ? daemon.state_dir + "/master.key" : daemon.master_key;
  // "${CREDENTIALS_DIRECTORY:-DIR}" names the key both under systemd (LoadCredential=) and for the
  // CLI run by hand, where the variable is unset; a plain "${CREDENTIALS_DIRECTORY}" has no fallback.
  static const std::string kVar = "${CREDENTIALS_DIRECTORY";
  size_t pos = path.find(kVar);
  if (pos == std::string::npos) return path;
  size_t end = path.find('}', pos);
  if (end == std::string::npos) return Status::InvalidArgument("master_key '" + path + "': unterminated ${...}");
  std::string rest = path.substr(pos + kVar.size(), end - pos - kVar.size());
  std::optional<std::string> fallback;
  if (rest.rfind(":-", 0) == 0) {
    fallback = rest.substr(2);
  } else if (!rest.empty()) {
    return Status::InvalidArgument("master_key '" + path +
                                   "': only ${CREDENTIALS_DIRECTORY} or ${CREDENTIALS_DIRECTORY:-DIR} is expanded");
  }
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  std::string value = dir != nullptr && *dir != '\0' ? dir : fallback.value_or("");
  if (value.empty()) {
    return Status::InvalidArgument("master_key '" + path +
                                   "' uses ${CREDENTIALS_DIRECTORY}, which is not set (systemd's LoadCredential= "
                                   "sets it); write ${CREDENTIALS_DIRECTORY:-/etc/gitsyncd} to name the key "
                                   "outside systemd too");
  }
  path.replace(pos, end + 1 - pos, value);
  return path;
}

std::string SecretsDir(const DaemonConfig& daemon) {
  return daemon.secrets_dir.empty() ? daemon.state_dir + "/secrets" : daemon.secrets_dir;
}

std::string ImportsDir(const DaemonConfig& daemon) { return daemon.state_dir + "/imports.d"; }

std::string BindingStateDir(const DaemonConfig& daemon, const std::string& binding_name) {
  // Binding names are restricted to letters, digits, space and "_-." but may be non-ASCII;
  // escape everything outside [A-Za-z0-9_.-] so the directory name is portable and unique.
  std::string escaped;
  for (unsigned char c : binding_name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-' || (c == '.' && !escaped.empty())) {
      escaped.push_back(static_cast<char>(c));
    } else {
      escaped += '%';
      escaped += HexEncode(std::string_view(reinterpret_cast<const char*>(&c), 1));
    }
  }
  return daemon.state_dir + "/bindings/" + escaped;
}

std::string ConnectorId(std::string_view name) {
  std::string id;
  bool plain = true;
  for (unsigned char ch : name) {
    char c = static_cast<char>(ch);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-') {
      id += c;
    } else {
      if (c != ' ') plain = false;
      if (id.empty() || id.back() != '-') id += '-';
    }
  }
  if (plain && !id.empty()) return id;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(name.data()), name.size());
  std::string suffix = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), 4));
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id.empty() ? std::string("c-") + suffix : id + "-" + suffix;
}

}  // namespace gitsyncd
