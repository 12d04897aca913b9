#include "sync/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "config/base64.h"

namespace gitsyncd {
namespace {

constexpr size_t kMaxKnownHostsBytes = 4 * 1024 * 1024;

std::string Fingerprint(const std::string& blob) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(blob.data()), blob.size(), digest);
  std::string b64 = Base64Encode(std::string(reinterpret_cast<char*>(digest), sizeof digest));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

// Simple glob for known_hosts patterns: '*' and '?'.
bool Glob(const char* p, const char* s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return Glob(p + 1, s) || (*s != '\0' && Glob(p, s + 1));
  if (*s == '\0') return false;
  return (*p == '?' || *p == *s) && Glob(p + 1, s + 1);
}

bool HashedMatch(const std::string& pattern, const std::string& name) {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  size_t sep = pattern.find('|', 3);
  if (pattern.rfind("|1|", 0) != 0 || sep == std::string::npos) return false;
  std::string salt = Base64Decode(pattern.substr(3, sep - 3)).value_or("");
  std::string want = Base64Decode(pattern.substr(sep + 1)).value_or("");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()), reinterpret_cast<const unsigned char*>(name.data()),
       name.size(), mac, &mac_len);
  return want.size() == mac_len && CRYPTO_memcmp(want.data(), mac, mac_len) == 0;
}

// True when the comma-separated host patterns match `name` (and no negated pattern does).
bool HostMatches(const std::string& patterns, const std::string& name) {
  if (patterns.rfind("|1|", 0) == 0) return HashedMatch(patterns, name);
  bool matched = false;
  std::stringstream ss(patterns);
  std::string p;
  while (std::getline(ss, p, ',')) {
    bool negated = !p.empty() && p[0] == '!';
    if (negated) p.erase(0, 1);
    if (Glob(p.c_str(), name.c_str())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

}  // namespace

// Reads the whole file before deciding: a @revoked line refuses its key wherever it stands,
// before or after a line that lists the same key as valid.
Result<HostKeyCheck> CheckHostKey(const std::string& known_hosts_file, const std::string& host, int port,
                                  const std::string& key_type, const std::string& key_blob) {
  std::ifstream in(known_hosts_file);
  if (!in) return Status::NotFound("known_hosts file " + known_hosts_file + " cannot be read");
  HostKeyCheck result;
  result.fingerprint = Fingerprint(key_blob);
  std::string name = port == 22 || port <= 0 ? host : "[" + host + "]:" + std::to_string(port);
  bool host_known = false, matched = false;
  int cert_authority_line = 0;
  size_t total = 0;
  int line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    total += line.size();
    if (total > kMaxKnownHostsBytes) return Status::InvalidArgument("known_hosts file " + known_hosts_file + " is too large");
    std::stringstream ss(line);
    std::string marker, patterns, type, b64;
    ss >> patterns;
    if (patterns.empty() || patterns[0] == '#') continue;
    if (patterns[0] == '@') {
      marker = patterns;
      ss >> patterns;
    }
    ss >> type >> b64;
    if (b64.empty() || !HostMatches(patterns, name)) continue;
    if (marker == "@cert-authority") {
      if (cert_authority_line == 0) cert_authority_line = line_no;
      continue;
    }
    std::string blob = Base64Decode(b64).value_or("");
    bool same_key = type == key_type && blob.size() == key_blob.size() &&
                    CRYPTO_memcmp(blob.data(), key_blob.data(), blob.size()) == 0;
    if (marker == "@revoked") {
      if (same_key) {
        result.verdict = HostKeyVerdict::kRevoked;
        return result;
      }
      continue;
    }
    if (type != key_type) continue;  // another key type for this host says nothing about this one
    host_known = true;
    matched = matched || same_key;
  }
  if (!matched && cert_authority_line > 0) {
    // libssh2 cannot check host certificates, so a CA line can never vouch for a key; saying
    // so beats "unknown host key" for a file that looks right.
    return Status::PermissionDenied("known_hosts file " + known_hosts_file + " line " +
                                    std::to_string(cert_authority_line) + ": @cert-authority (SSH host certificates) "
                                    "is not supported; list the host's own key for " + name + " instead");
  }
  result.verdict = matched ? HostKeyVerdict::kMatch : host_known ? HostKeyVerdict::kChanged : HostKeyVerdict::kUnknownHost;
  return result;
}

}  // namespace gitsyncd
