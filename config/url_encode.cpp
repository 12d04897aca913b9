#include "config/url_encode.h"

#include <cctype>

namespace gitsyncd {

std::string UrlEncodeComponent(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string UrlEncodePath(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    size_t slash = path.find('/', start);
    out += UrlEncodeComponent(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

}  // namespace gitsyncd
