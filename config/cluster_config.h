// Reading gitsyncd.yaml `cluster:` and connectors' `delegate_selectors:` (part of LoadConfig;
// docs/fleet.md says what they mean).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace gitsyncd {

// An instance name or a selector: 1 to 63 of [A-Za-z0-9._-], starting with a letter or digit
// (they become parts of etcd keys and status lines). Empty when fine, else why not.
std::string ClusterNameProblem(std::string_view name);

// `cluster:` of gitsyncd.yaml; `node` is its value.
void LoadCluster(const YAML::Node& node, ErrorSink* sink, ClusterConfig* out);

// A list of selectors under `key` of `m` (absent: empty), each checked; duplicates dropped.
std::vector<std::string> LoadSelectorList(YamlMap& m, const std::string& key);

}  // namespace gitsyncd
