// Small text helpers every part of the program shares: one home for each, so that URL bases,
// header names and host names are treated the same way everywhere.
#pragma once

#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <string>
#include <string_view>

namespace gitsyncd {

// "https://host/api/" -> "https://host/api". A path of slashes only becomes "" or, with
// `keep_root`, "/"; "" stays "".
inline std::string WithoutTrailingSlashes(std::string s, bool keep_root = false) {
  bool slashes_only = !s.empty() && s.find_first_not_of('/') == std::string::npos;
  boost::algorithm::trim_right_if(s, boost::algorithm::is_any_of("/"));
  if (keep_root && slashes_only) s.assign(1, '/');  // not s = "/": GCC 12 -Wrestrict misfires on it
  return s;
}

// ASCII lowercase (header names, host names, hex digests), whatever the locale: bytes outside
// A-Z are left alone (std::tolower and Boost's to_lower follow the global locale).
inline std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Whether a '/'-separated repository path is a .git folder or inside one (".git", "a/.git/x"),
// in any letter case as Git itself refuses them: such entries are never checked out, so a
// synced folder never gets a second repository's metadata.
inline bool NamesDotGit(std::string_view path) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (AsciiLower(std::string(part)) == ".git") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

}  // namespace gitsyncd
