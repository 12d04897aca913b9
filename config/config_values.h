// Values gitsyncd.yaml and connector files check the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/yaml_reader.h"

namespace gitsyncd {

// The shortest poll interval a connector or sync may set (0 turns polling off).
inline constexpr std::chrono::seconds kMinPollInterval{10};

// max_file_size of gitsyncd.yaml or of one sync, checked against its bounds.
std::optional<uint64_t> MaxFileSize(YamlMap& m, ErrorSink* sink);

// A list of absolute folders (import_roots, config_source.local_roots), normalised; "/" and
// relative paths are refused naming `key`[i].
void LoadFolderList(const YAML::Node& node, const std::string& key, ErrorSink* sink, std::vector<std::string>* out);

// Lexically normalised absolute path without a trailing slash.
std::string NormalizeAbsolute(const std::string& p);

}  // namespace gitsyncd
