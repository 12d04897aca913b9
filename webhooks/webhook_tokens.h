// The secret part of each connector's generated webhook URL (/webhooks/<id>/<token>): 256
// random bits from libsodium, base64url. Only its SHA-256 is kept on disk
// (<state_dir>/webhooks/tokens/<id>.json, mode 0600); a presented token is hashed and compared
// in constant time. Rotating writes a new hash atomically; the old URL stops working.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "base/status.h"

namespace gitsyncd {

class WebhookTokens {
 public:
  static std::string Dir(const DaemonConfig& daemon);

  // Makes a new token for `connector_id`, replacing any previous one; returns it (the only
  // time it exists in clear outside the provider's settings and the caller).
  static Result<std::string> Rotate(const DaemonConfig& daemon, const std::string& connector_id);
  static bool Exists(const DaemonConfig& daemon, const std::string& connector_id);

  // Loads the hashes of the given connectors (a connector without a token file has none:
  // every delivery to it is refused until `gitsyncd webhook-url` makes one).
  static WebhookTokens Load(const DaemonConfig& daemon, const std::vector<std::string>& connector_ids);

  bool Has(const std::string& connector_id) const { return hashes_.count(connector_id) > 0; }
  bool Matches(const std::string& connector_id, std::string_view token) const;
  // Token files that exist but could not be read, with the reason (for the log).
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::map<std::string, std::string> hashes_;  // id -> raw SHA-256 of the token
  std::vector<std::string> problems_;
};

}  // namespace gitsyncd
