// Checks an SSH server's host key against an OpenSSH known_hosts file: plain and hashed
// (|1|salt|hash) host patterns, the [host]:port form, @revoked markers (anywhere in the file).
// @cert-authority lines are not supported: when one matches a host whose own key is not listed,
// the check fails saying so.
#pragma once

#include <string>

#include "base/status.h"

namespace gitsyncd {

enum class HostKeyVerdict { kMatch, kUnknownHost, kChanged, kRevoked };

struct HostKeyCheck {
  HostKeyVerdict verdict = HostKeyVerdict::kUnknownHost;
  std::string fingerprint;  // "SHA256:..." of the presented key, for messages
};

// `key_type` is the SSH key type name ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...),
// `key_blob` the raw public key blob as sent by the server. `port` 22 matches plain "host"
// entries; other ports match "[host]:port".
Result<HostKeyCheck> CheckHostKey(const std::string& known_hosts_file, const std::string& host, int port,
                                  const std::string& key_type, const std::string& key_blob);

}  // namespace gitsyncd
