#include "webhooks/webhook_tokens.h"

#include "config/hex.h"

#include <sodium.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/private_files.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string Sha256(std::string_view data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return out;
}

// The stored SHA-256 of a token; empty when the file holds something else.
std::string FromHex(std::string_view hex) {
  std::string bin(crypto_hash_sha256_BYTES, '\0');
  if (!HexDecode(hex, reinterpret_cast<unsigned char*>(bin.data()), bin.size())) return {};
  return bin;
}

std::string TokenFile(const DaemonConfig& daemon, const std::string& id) {
  return WebhookTokens::Dir(daemon) + "/" + id + ".json";
}

}  // namespace

std::string WebhookTokens::Dir(const DaemonConfig& daemon) { return daemon.state_dir + "/webhooks/tokens"; }

bool WebhookTokens::Exists(const DaemonConfig& daemon, const std::string& connector_id) {
  std::error_code ec;
  return fs::exists(TokenFile(daemon, connector_id), ec);
}

Result<std::string> WebhookTokens::Rotate(const DaemonConfig& daemon, const std::string& connector_id) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string token(sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(token.data(), token.size(), raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  token.resize(std::strlen(token.c_str()));
  sodium_memzero(raw, sizeof raw);

  Status made = MakePrivateDirs(Dir(daemon));
  if (!made.ok()) return made;
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string body = json::serialize(json::object{{"sha256", HexEncode(Sha256(token))}, {"created", when}}) + "\n";
  Status written = WritePrivateFile(TokenFile(daemon, connector_id), body);
  if (!written.ok()) return written;
  return token;
}

WebhookTokens WebhookTokens::Load(const DaemonConfig& daemon, const std::vector<std::string>& ids) {
  WebhookTokens t;
  for (const auto& id : ids) {
    std::ifstream in(TokenFile(daemon, id));
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    json::error_code ec;
    json::value v = json::parse(ss.str(), ec);
    std::string hash;
    if (!ec && v.is_object() && v.as_object().contains("sha256") && v.at("sha256").is_string()) {
      hash = FromHex(std::string(v.at("sha256").as_string()));
    }
    if (hash.size() == crypto_hash_sha256_BYTES) {
      t.hashes_[id] = hash;
    } else {
      t.problems_.push_back(TokenFile(daemon, id) + ": not a webhook token file (no 64-hex 'sha256'); "
                            "run `gitsyncd webhook-url --rotate` for this connector");
    }
  }
  return t;
}

bool WebhookTokens::Matches(const std::string& connector_id, std::string_view token) const {
  auto it = hashes_.find(connector_id);
  if (it == hashes_.end()) return false;
  std::string presented = Sha256(token);
  return sodium_memcmp(presented.data(), it->second.data(), presented.size()) == 0;
}

}  // namespace gitsyncd
