// Percent-encoding for URLs that gitsyncd composes (REST API paths, provider web pages).
#pragma once

#include <string>

namespace gitsyncd {

// Percent-encodes every byte but unreserved ones ('/' too, as GitLab's :id and :file_path need).
std::string UrlEncodeComponent(const std::string& s);
// A path for a URL: each segment encoded on its own, '/' between them kept.
std::string UrlEncodePath(const std::string& path);

}  // namespace gitsyncd
