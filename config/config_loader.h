// Reads a config directory (gitsyncd.yaml + connectors.d/*.yaml) into a validated Config.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "base/status.h"

namespace gitsyncd {

// One problem found in the config, fit to print as is:
//   "<file>:<line>:<col>: <key>: <message>"
struct ConfigError {
  SourceLocation where;
  std::string key;      // dotted path, e.g. "syncs[1].direction"; may be empty
  std::string message;  // e.g. "unknown key 'brnach' (did you mean 'branch'?)"
  std::string ToString() const;
};

struct ConfigLoadResult {
  Config config;                     // meaningful only when errors is empty
  std::vector<ConfigError> errors;   // all problems found, in file order
  bool ok() const { return errors.empty(); }
};

// The directory used when neither --config nor GITSYNCD_CONFIG is given.
inline constexpr const char* kDefaultConfigDir = "/etc/gitsyncd";

// Loads and validates everything. Collects every error instead of stopping at the first.
// `connectors_dir`, when given, is read instead of <dir>/connectors.d, and errors name its files
// as <dir>/connectors.d would hold them: the check of a commit of config_source before it is
// written there (docs/fleet.md, "Config from Git").
ConfigLoadResult LoadConfig(const std::string& dir, const std::string& connectors_dir = "");

}  // namespace gitsyncd
