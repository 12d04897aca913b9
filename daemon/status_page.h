// The small status page at GET / (and its script at /ui/status.js): each binding, its state,
// last sync, time since its last success, last error and open conflicts (linked to the
// provider), its last passes and its connector's recent webhook deliveries, refreshed from
// /api/v1/status every 3 s; in a fleet, every live instance with its selectors and each
// binding's last synced commit against the branch head (/api/v1/fleet). Static text, no external resources; served with a
// Content-Security-Policy of 'self' only.
#pragma once

#include <string_view>

namespace gitsyncd {

std::string_view StatusPageHtml();
std::string_view StatusPageScript();
inline constexpr std::string_view kStatusPageCsp = "default-src 'self'; style-src 'self' 'unsafe-inline'";

}  // namespace gitsyncd
