// Headless Chromium (Debian `chromium`) for tests of the status page: the DOM its script
// built, as a user's browser shows it.
#pragma once

#include <string>
#include <vector>

namespace gitsyncd::testing {

// The command line of a headless Chromium with its own profile folder `profile`.
std::vector<std::string> Chromium(const std::string& profile);
// Loads `url`, lets its scripts run (5 s of virtual time) and returns the DOM; throws when
// Chromium fails.
std::string RenderedDom(const std::string& profile, const std::string& url);

}  // namespace gitsyncd::testing
