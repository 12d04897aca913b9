// Percent-encoding for URLs that gitsyncd composes (provider REST paths and web pages) from
// names that come from config or a remote: every byte but RFC 3986's unreserved ones.
#pragma once

#include <string>

namespace gitsyncd {

// One component: '/' is encoded too, as GitLab's :id and :file_path need ("a/b c" -> "a%2Fb%20c").
std::string UrlEncodeComponent(const std::string& s);
// A path: each segment encoded, the '/' between them kept ("a/b c" -> "a/b%20c").
std::string UrlEncodePath(const std::string& path);

}  // namespace gitsyncd
