// Checks that a delivery really comes from the provider the connector is set up with, using
// the connector's webhook.secret: HMAC-SHA256 signatures (GitHub X-Hub-Signature-256,
// Bitbucket X-Hub-Signature), GitLab's X-Gitlab-Token, Azure DevOps basic auth. Every
// comparison of secret material is constant-time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "webhooks/payload_parser.h"

namespace gitsyncd {

struct VerifyPolicy {
  std::string secret;       // empty = the connector has no webhook.secret
  bool allow_sha1 = false;  // GitHub: accept a delivery signed only with X-Hub-Signature (SHA-1)
  std::string error;        // set when the secret could not be resolved: refuse everything
};

// What the check found, for the delivery record.
struct Verification {
  bool accepted = false;
  std::string how;  // "hmac-sha256", "token", "basic-auth", "unsigned (no webhook.secret)", ...
  std::string why;  // when refused: what was missing or wrong
};

class WebhookVerifier {
 public:
  // Prepares the HMAC keys once (the SHA-256/SHA-1 states after the padded key blocks), so a
  // delivery costs only the hashing of its body. Cheap to copy.
  explicit WebhookVerifier(VerifyPolicy policy);
  // `event` is the delivery's event name (a Bitbucket Server diagnostics:ping is unsigned by
  // design and is let through; it never queues anything).
  Verification Verify(WebhookFormat format, std::string_view event, const HeaderMap& headers,
                      std::string_view body) const;

 private:
  Verification CheckHmac(std::string_view header_value, std::string_view prefix, bool sha1,
                         std::string_view body, std::string_view header_name) const;
  VerifyPolicy policy_;
  struct Keys;
  std::shared_ptr<const Keys> keys_;
};

// Hex HMAC of `body` with `key` (SHA-256, or SHA-1 when `sha1`), for tests and benchmarks
// that sign payloads the way providers do.
std::string HmacHex(std::string_view key, std::string_view body, bool sha1 = false);

// Equality of two secrets in time independent of their content and length.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace gitsyncd
