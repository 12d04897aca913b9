// Writes a throw-away config directory and loads it, returning errors with the temp path
// replaced by "DIR", so tests can assert the exact lines a user sees.
#pragma once

#include <string>
#include <vector>

#include "config/config_loader.h"
#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

struct LoadedConfig {
  ConfigLoadResult result;
  std::vector<std::string> errors;  // "connectors.d/c.yaml:3:7: key: message"
};

inline LoadedConfig LoadConnectors(const std::vector<std::pair<std::string, std::string>>& files,
                                   const std::string& daemon_yaml = "state_dir: /var/lib/gitsyncd-test\n") {
  TempDir dir;
  WriteFile(dir / "gitsyncd.yaml", daemon_yaml);
  for (const auto& [name, text] : files) WriteFile(dir / ("connectors.d/" + name), text);
  LoadedConfig out{LoadConfig(dir.path()), {}};
  for (const auto& e : out.result.errors) {
    std::string line = e.ToString();
    std::string prefix = dir.path() + "/";
    for (size_t p; (p = line.find(prefix)) != std::string::npos;) line.erase(p, prefix.size());
    out.errors.push_back(line);
  }
  return out;
}

inline LoadedConfig LoadConnector(const std::string& yaml) { return LoadConnectors({{"c.yaml", yaml}}); }

// A valid HTTPS repo connector with one sync; tests change one thing at a time.
inline const char* kValidConnector =
    "name: Team configs\n"
    "provider: github\n"
    "url: https://github.com/acme/configs.git\n"
    "auth:\n"
    "  username: bot\n"
    "  password: {secret: gh-token}\n"
    "syncs:\n"
    "  - name: app\n"
    "    path: apps/app\n"
    "    local: /srv/app\n";

}  // namespace gitsyncd::testing
