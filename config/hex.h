// Hex for the whole program, through libsodium (its codec runs in constant time for a given
// length, so secrets and signatures can go through it too).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gitsyncd {

// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);

// Exactly `size` bytes from `hex` (either case) into `out`; false for any other length or a
// character that is not a hex digit.
bool HexDecode(std::string_view hex, unsigned char* out, size_t size);

}  // namespace gitsyncd
