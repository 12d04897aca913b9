#include "config/url_encode.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace gitsyncd {

std::string UrlEncodeComponent(const std::string& s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string UrlEncodePath(const std::string& path) {
  static constexpr auto kPathChars = boost::urls::unreserved_chars + '/';
  return boost::urls::encode(path, kPathChars);
}

}  // namespace gitsyncd
