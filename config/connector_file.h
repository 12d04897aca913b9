// A connector file (connectors.d/*.yaml, or one an import wrote): read into a ConnectorConfig
// with every problem reported at its file:line, and written from one in the same keys. Both
// directions live here so that what is written always reads back as the same connector.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"

namespace gitsyncd {

// Reads one connector file's document into `c`; problems are appended to `errors`.
void LoadConnector(const YAML::Node& root, const std::string& file, ConnectorConfig* c,
                   std::vector<ConfigError>* errors);

// The YAML text of `c`: every setting that differs from its default, secrets as their
// references ({secret: NAME}, never a value), each line of `comment` as a leading comment.
std::string ConnectorFileText(const ConnectorConfig& c, const std::string& comment);

}  // namespace gitsyncd
