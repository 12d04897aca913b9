// Values gitsyncd.yaml and connector files check the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/yaml_reader.h"

namespace gitsyncd {

// The shortest poll interval a connector or sync may set (0 turns polling off).
inline constexpr std::chrono::seconds kMinPollInterval{10};

// max_file_size of gitsyncd.yaml or of one sync, checked against its bounds.
std::optional<uint64_t> MaxFileSize(YamlMap& m, ErrorSink* sink);

// Lexically normalised absolute path without a trailing slash.
std::string NormalizeAbsolute(const std::string& p);

}  // namespace gitsyncd
