// Logging through spdlog to stderr. Under systemd (JOURNAL_STREAM set) each line carries an
// sd-daemon priority prefix ("<6>") instead of a timestamp, so journald keeps the levels.
#pragma once

#include <string>

#include "config/status.h"

namespace gitsyncd {

// `level`: trace|debug|info|warn|error|critical|off.
// `format` "json" writes one JSON object per line: {"time", "level", "msg"}.
Status SetupLogging(const std::string& level, const std::string& format = "text");

}  // namespace gitsyncd
