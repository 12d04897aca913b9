// Base64 (RFC 4648, standard alphabet, with padding), one home for every user: etcd's JSON
// gateway, provider commit APIs, HTTP Basic credentials, hashed known_hosts entries.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gitsyncd {

std::string Base64Encode(std::string_view bytes);
// nullopt when `text` is not padded standard base64 (no whitespace allowed).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace gitsyncd
