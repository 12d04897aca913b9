#include "webhooks/webhook_verifier.h"

#include "config/base64.h"
#include "config/hex.h"

// The low-level SHA-256/SHA-1 contexts are plain structs that can be copied: the key's padded
// blocks are hashed once per connector, not once per delivery (OpenSSL's HMAC() also fetches
// the algorithm each call). They still use the CPU's SHA instructions.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace gitsyncd {
namespace {

Verification Accept(std::string how) { return {true, std::move(how), {}}; }
Verification Refuse(std::string why) { return {false, {}, std::move(why)}; }

// One hash function's HMAC states: the inner and outer padded key blocks already hashed
// (RFC 2104; a key longer than the 64-byte block is hashed first).
template <class Ctx, int (*Init)(Ctx*), int (*Update)(Ctx*, const void*, size_t),
          int (*Final)(unsigned char*, Ctx*), unsigned char* (*Hash)(const unsigned char*, size_t, unsigned char*),
          size_t kDigest>
struct HmacStates {
  Ctx inner, outer;

  explicit HmacStates(std::string_view key) {
    unsigned char block[64] = {0}, pad[64];
    if (key.size() > sizeof block) {
      Hash(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
    } else {
      std::memcpy(block, key.data(), key.size());
    }
    for (auto [ctx, with] : {std::pair{&inner, 0x36}, std::pair{&outer, 0x5c}}) {
      for (size_t i = 0; i < sizeof pad; ++i) pad[i] = static_cast<unsigned char>(block[i] ^ with);
      Init(ctx);
      Update(ctx, pad, sizeof pad);
    }
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
  }
  ~HmacStates() {
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
  }

  // The HMAC of `body` into `mac` (kDigest bytes).
  size_t Mac(std::string_view body, unsigned char* mac) const {
    Ctx c = inner;
    Update(&c, body.data(), body.size());
    Final(mac, &c);
    c = outer;
    Update(&c, mac, kDigest);
    Final(mac, &c);
    OPENSSL_cleanse(&c, sizeof c);
    return kDigest;
  }
};

}  // namespace

struct WebhookVerifier::Keys {
  HmacStates<SHA256_CTX, SHA256_Init, SHA256_Update, SHA256_Final, SHA256, SHA256_DIGEST_LENGTH> sha256;
  HmacStates<SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final, SHA1, SHA_DIGEST_LENGTH> sha1;

  explicit Keys(std::string_view key) : sha256(key), sha1(key) {}
  size_t Mac(std::string_view body, bool use_sha1, unsigned char* mac) const {
    return use_sha1 ? sha1.Mac(body, mac) : sha256.Mac(body, mac);
  }
};

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Comparing digests makes the time independent of both content and length.
  unsigned char da[crypto_generichash_BYTES], db[crypto_generichash_BYTES];
  crypto_generichash(da, sizeof da, reinterpret_cast<const unsigned char*>(a.data()), a.size(), nullptr, 0);
  crypto_generichash(db, sizeof db, reinterpret_cast<const unsigned char*>(b.data()), b.size(), nullptr, 0);
  return sodium_memcmp(da, db, sizeof da) == 0;
}

std::string HmacHex(std::string_view key, std::string_view body, bool sha1) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(sha1 ? EVP_sha1() : EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

WebhookVerifier::WebhookVerifier(VerifyPolicy policy) : policy_(std::move(policy)) {
  if (!policy_.secret.empty()) keys_ = std::make_shared<const Keys>(policy_.secret);
}

Verification WebhookVerifier::CheckHmac(std::string_view value, std::string_view prefix, bool sha1,
                                        std::string_view body, std::string_view header_name) const {
  if (value.substr(0, prefix.size()) != prefix) {
    return Refuse(std::string(header_name) + " does not start with '" + std::string(prefix) + "'");
  }
  unsigned char expected[SHA256_DIGEST_LENGTH], given[SHA256_DIGEST_LENGTH];
  size_t size = keys_->Mac(body, sha1, expected);
  // The comparison of the MACs takes the same time wherever they differ.
  bool ok = HexDecode(value.substr(prefix.size()), given, size) && CRYPTO_memcmp(given, expected, size) == 0;
  OPENSSL_cleanse(expected, sizeof expected);
  if (!ok) return Refuse(std::string(header_name) + " does not match the body signed with webhook.secret");
  return Accept(sha1 ? "hmac-sha1" : "hmac-sha256");
}

Verification WebhookVerifier::Verify(WebhookFormat format, std::string_view event, const HeaderMap& h,
                                     std::string_view body) const {
  if (!policy_.error.empty()) return Refuse(policy_.error);
  if (policy_.secret.empty()) return Accept("unsigned (no webhook.secret)");
  switch (format) {
    case WebhookFormat::kGitHub: {
      std::string_view sha256 = HeaderValue(h, "x-hub-signature-256");
      if (!sha256.empty()) return CheckHmac(sha256, "sha256=", false, body, "X-Hub-Signature-256");
      std::string_view sha1 = HeaderValue(h, "x-hub-signature");
      if (sha1.empty()) return Refuse("no X-Hub-Signature-256 header, but webhook.secret is set");
      if (!policy_.allow_sha1) {
        return Refuse("signed only with SHA-1 (X-Hub-Signature); refused unless webhook.allow_sha1 is true");
      }
      return CheckHmac(sha1, "sha1=", true, body, "X-Hub-Signature");
    }
    case WebhookFormat::kBitbucketServer:
      if (event == "diagnostics:ping" && !h.count("x-hub-signature")) return Accept("unsigned ping (diagnostics:ping)");
      [[fallthrough]];
    case WebhookFormat::kBitbucketCloud: {
      std::string_view sig = HeaderValue(h, "x-hub-signature");
      if (sig.empty()) return Refuse("no X-Hub-Signature header, but webhook.secret is set");
      return CheckHmac(sig, "sha256=", false, body, "X-Hub-Signature");
    }
    case WebhookFormat::kBitbucketPostPlugin: {
      // The app signs with X-Hub-Signature when given a secret; older versions only offer
      // basic auth in the hook settings. Either proves knowledge of the secret.
      std::string_view sig = HeaderValue(h, "x-hub-signature");
      if (!sig.empty()) return CheckHmac(sig, "sha256=", false, body, "X-Hub-Signature");
      [[fallthrough]];
    }
    case WebhookFormat::kAzureDevOps: {
      std::string_view auth = HeaderValue(h, "authorization");
      if (auth.substr(0, 6) != "Basic " && auth.substr(0, 6) != "basic ") {
        return Refuse(format == WebhookFormat::kAzureDevOps
                          ? "no basic auth (Authorization: Basic), but webhook.secret is set"
                          : "no X-Hub-Signature header and no basic auth, but webhook.secret is set");
      }
      std::string creds = Base64Decode(auth.substr(6)).value_or("");
      size_t colon = creds.find(':');
      if (colon == std::string::npos) return Refuse("basic auth credentials are malformed");
      // webhook.secret is the password, or "user:password" to check the user name too.
      bool ok = policy_.secret.find(':') != std::string::npos ? ConstantTimeEquals(creds, policy_.secret)
                                                               : ConstantTimeEquals(creds.substr(colon + 1), policy_.secret);
      sodium_memzero(creds.data(), creds.size());
      return ok ? Accept("basic-auth") : Refuse("basic auth password does not match webhook.secret");
    }
    case WebhookFormat::kGitLab: {
      std::string_view token = HeaderValue(h, "x-gitlab-token");
      if (token.empty()) return Refuse("no X-Gitlab-Token header, but webhook.secret is set");
      return ConstantTimeEquals(token, policy_.secret) ? Accept("token")
                                                        : Refuse("X-Gitlab-Token does not match webhook.secret");
    }
  }
  return Refuse("unknown format");
}

}  // namespace gitsyncd
