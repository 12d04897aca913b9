// Header values that list items separated by commas ("repo, read:org", NO_PROXY's
// "localhost, .example.com"): the items, trimmed of spaces, empty ones left out.
#pragma once

#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <string>
#include <vector>

namespace gitsyncd {

inline std::vector<std::string> CommaList(const std::string& value) {
  std::vector<std::string> items;
  boost::algorithm::split(items, value, boost::algorithm::is_any_of(","));
  std::vector<std::string> out;
  for (auto& item : items) {
    boost::algorithm::trim_if(item, boost::algorithm::is_any_of(" "));
    if (!item.empty()) out.push_back(std::move(item));
  }
  return out;
}

}  // namespace gitsyncd
