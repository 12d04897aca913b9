#include "config/config.h"

#include <sodium.h>

#include <cstdlib>

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
  static const std::string kVar = "${CREDENTIALS_DIRECTORY}";
  size_t pos = path.find(kVar);
  if (pos != std::string::npos) {
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    if (dir == nullptr || *dir == '\0') {
      return Status::InvalidArgument("master_key '" + path +
                                     "' uses ${CREDENTIALS_DIRECTORY}, which is not set (it is set "
                                     "by systemd's LoadCredential=)");
    }
    path.replace(pos, kVar.size(), dir);
  }
  return path;
}

std::string SecretsDir(const DaemonConfig& daemon) {
  return daemon.secrets_dir.empty() ? daemon.state_dir + "/secrets" : daemon.secrets_dir;
}

std::string BindingStateDir(const DaemonConfig& daemon, const std::string& binding_name) {
  // Binding names are restricted to letters, digits, space and "_-." but may be non-ASCII;
  // escape everything outside [A-Za-z0-9_.-] so the directory name is portable and unique.
  std::string escaped;
  for (unsigned char c : binding_name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-' || (c == '.' && !escaped.empty())) {
      escaped.push_back(static_cast<char>(c));
    } else {
      static const char* kHex = "0123456789abcdef";
      escaped += '%';
      escaped += kHex[c >> 4];
      escaped += kHex[c & 15];
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
  static const char kHex[] = "0123456789abcdef";
  std::string suffix;
  for (int i = 0; i < 4; ++i) {
    suffix += kHex[digest[i] >> 4];
    suffix += kHex[digest[i] & 15];
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id.empty() ? "c-" + suffix : id + "-" + suffix;
}

}  // namespace gitsyncd
