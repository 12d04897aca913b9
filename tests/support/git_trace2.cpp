#include "tests/support/git_trace2.h"

#include <map>
#include <sstream>

#include <boost/json.hpp>

namespace gitsyncd::testing {

std::vector<double> Trace2CommandSeconds(const std::string& events, const std::string& name) {
  std::map<std::string, std::string> top_level;  // sid -> command name
  std::vector<double> out;
  std::istringstream in(events);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    const auto* event = o.if_contains("event");
    const auto* sid = o.if_contains("sid");
    if (event == nullptr || sid == nullptr || !event->is_string() || !sid->is_string()) continue;
    std::string id(sid->as_string());
    if (id.find('/') != std::string::npos) continue;  // a child: its time is in its parent's
    if (event->as_string() == "cmd_name") {
      if (const auto* n = o.if_contains("name"); n != nullptr && n->is_string()) top_level[id] = std::string(n->as_string());
    } else if (event->as_string() == "exit") {
      const auto* t = o.if_contains("t_abs");
      auto it = top_level.find(id);
      if (t != nullptr && t->is_number() && it != top_level.end() && it->second == name) out.push_back(t->to_number<double>());
    }
  }
  return out;
}

}  // namespace gitsyncd::testing
