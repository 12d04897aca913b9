#include "tests/support/github_push.h"

#include <boost/json.hpp>

#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

std::string GitHubPushPayload(const std::string& before, const std::string& after, const std::string& repo) {
  auto v = boost::json::parse(ReadFile(TestDataDir() + "/fixtures/webhooks/github-push.json"));
  auto& o = v.as_object();
  o["ref"] = "refs/heads/main";
  o["before"] = before;
  o["after"] = after;
  o["repository"].as_object()["full_name"] = "git/" + repo;
  o["repository"].as_object()["name"] = repo;
  return boost::json::serialize(v);
}

}  // namespace gitsyncd::testing
