#include "cluster/selectors.h"

#include <algorithm>

namespace gitsyncd {

bool ServesConnector(const ClusterConfig& instance, const ConnectorConfig& connector) {
  if (!instance.configured) return true;
  return std::all_of(connector.delegate_selectors.begin(), connector.delegate_selectors.end(),
                     [&](const std::string& s) {
                       return std::find(instance.selectors.begin(), instance.selectors.end(), s) !=
                              instance.selectors.end();
                     });
}

Config ServedConfig(const Config& config) {
  Config out = config;
  std::erase_if(out.connectors,
                [&](const ConnectorConfig& c) { return !ServesConnector(config.daemon.cluster, c); });
  return out;
}

std::vector<std::string> ExclusiveCandidates(const Config& config) {
  std::vector<std::string> out;
  if (!config.daemon.cluster.configured) return out;
  for (const auto& c : config.connectors) {
    if (!ServesConnector(config.daemon.cluster, c)) continue;
    for (const auto& s : c.syncs) {
      if (s.exclusive) out.push_back(s.name);
    }
  }
  return out;
}

}  // namespace gitsyncd
