// Logging through spdlog. When stderr is systemd's journal stream (JOURNAL_STREAM names it),
// lines go to journald natively with their priority and the fields GITSYNCD_BINDING,
// GITSYNCD_CONNECTOR and GITSYNCD_COMMIT (config/log_context.h); if journald cannot be reached
// they fall back to stderr with an sd-daemon priority prefix ("<6>"). Elsewhere: stderr, with
// a timestamp, or one JSON object per line.
#pragma once

#include <string>

#include "base/status.h"

namespace gitsyncd {

// `level`: trace|debug|info|warn|error|critical|off.
// `format` "json" writes one JSON object per line: {"time", "level", "msg"}.
Status SetupLogging(const std::string& level, const std::string& format = "text");

}  // namespace gitsyncd
