// gitsyncd.yaml `config_source:` (docs/fleet.md, "Config from Git"): connectors.d kept in Git and
// pulled by a binding of its own. Part of LoadConfig. Every input from Git is hostile: what a
// pushed connector may do is limited here, and the same check runs on a commit before it is
// written into connectors.d as `gitsyncd check-config` runs on the directory.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"
#include "config/yaml_reader.h"

namespace gitsyncd {

// The name of the config source's connector and of its one sync binding (status, metrics,
// `sync-now config-source`); reserved: no connector file may use it.
inline constexpr const char* kConfigSourceName = "config-source";

// `config_source:` of gitsyncd.yaml (`node`), in config directory `dir`; problems are appended
// to `errors` under `file`.
void LoadConfigSource(const YAML::Node& node, const std::string& dir, const std::string& file, ConfigSourceConfig* out,
                      std::vector<ConfigError>* errors);

// The limits on connectors read from `pushed_dir` (connectors.d, or the folder a commit was
// written into for its check): each sync's folder under local_roots, secrets only from the
// local store, no hooks unless allowed; and nobody may use the reserved name.
void CheckConfigSourceRules(const Config& config, const std::string& pushed_dir, std::vector<ConfigError>* errors);

}  // namespace gitsyncd
