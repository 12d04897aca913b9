// The small status page at GET / (and its script at /ui/status.js): each binding, its state,
// last sync, last error and conflict branches, refreshed from /api/v1/status every 3 s. Static
// text, no external resources; served with a Content-Security-Policy of 'self' only.
#pragma once

#include <string_view>

namespace gitsyncd {

std::string_view StatusPageHtml();
std::string_view StatusPageScript();
inline constexpr std::string_view kStatusPageCsp = "default-src 'self'; style-src 'self' 'unsafe-inline'";

}  // namespace gitsyncd
