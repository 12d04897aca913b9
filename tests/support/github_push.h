// The GitHub push delivery body of tests/fixtures/webhooks/github-push.json for a push to
// `main` of the test server's repository `repo` (full name "git/<repo>"), from `before` to `after`.
#pragma once

#include <string>

namespace gitsyncd::testing {

std::string GitHubPushPayload(const std::string& before, const std::string& after, const std::string& repo = "cfg");

}  // namespace gitsyncd::testing
