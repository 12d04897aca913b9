#include "config/hex.h"

#include <sodium.h>

namespace gitsyncd {

std::string HexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

bool HexDecode(std::string_view hex, unsigned char* out, size_t size) {
  if (hex.size() != 2 * size) return false;
  size_t len = 0;
  return sodium_hex2bin(out, size, hex.data(), hex.size(), nullptr, &len, nullptr) == 0 && len == size;
}

}  // namespace gitsyncd
