#include "webhooks/webhook_router.h"

#include <algorithm>

#include "config/text.h"

namespace gitsyncd {
namespace {

std::string Normal(std::string s) {
  s = WithoutTrailingSlashes(AsciiLower(std::move(s)));
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".git") == 0) s.resize(s.size() - 4);
  while (!s.empty() && s.front() == '/') s.erase(0, 1);
  return s;
}

// The path part of a clone URL, normalised, with Azure's "_git" and Bitbucket Server's
// "scm" parts left out: https://host/a/b.git -> a/b; org/project/_git/repo -> org/project/repo.
std::string UrlPath(const std::string& url) {
  std::string rest = "/" + BitbucketServerRepoPath(RepoPathFromUrl(url));
  if (auto at = rest.find("/_git/"); at != std::string::npos) rest.replace(at, 6, "/");
  return Normal(rest);
}

bool EndsWithPath(const std::string& path, const std::string& suffix) {
  if (suffix.empty() || suffix.size() > path.size()) return false;
  if (path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  return path.size() == suffix.size() || path[path.size() - suffix.size() - 1] == '/';
}

std::string LastComponent(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool SameRepository(const SyncBinding& binding, const PushEvent& event) {
  std::string path = UrlPath(binding.remote_url);
  std::string full = Normal(event.repo_full_name);
  std::string name = Normal(event.repo_name);
  if (!full.empty() && EndsWithPath(path, full)) return true;
  // Bitbucket Server URLs carry the project key, payloads may too; Azure payloads name
  // project/repo while URLs hold org/project/repo. Fall back to the short name.
  std::string last = LastComponent(path);
  if (!name.empty() && last == name) return true;
  return !full.empty() && last == LastComponent(full);
}

std::vector<RouteDecision> RoutePush(const ConnectorConfig& connector, const PushEvent& event) {
  std::vector<RouteDecision> out;
  for (const SyncBinding& b : connector.syncs) {
    RouteDecision d{b.name, false, {}, {}};
    if (!SameRepository(b, event)) {
      d.reason = "repository '" + event.repo_full_name + "' is not this binding's (" + b.remote_url + ")";
      out.push_back(std::move(d));
      continue;
    }
    const RefChange* hit = nullptr;
    for (const RefChange& c : event.changes) {
      if (!c.branch.empty() && c.branch == b.branch) hit = &c;
    }
    if (!hit) {
      std::string moved;
      for (const RefChange& c : event.changes) moved += (moved.empty() ? "" : ", ") + c.ref;
      d.reason = "push moved " + (moved.empty() ? std::string("no refs") : moved) + ", not branch '" + b.branch + "'";
    } else if (hit->deleted) {
      d.reason = "branch '" + b.branch + "' was deleted on the remote; the local folder " + b.local +
                 " is kept as it is and nothing is pulled";
    } else if (b.direction == SyncDirection::kPush) {
      d.reason = "direction is push (local to Git only): remote changes are not pulled";
    } else {
      d.queue = true;
      d.commit = hit->after;
      d.reason = "pull queued for " + (hit->after.empty() ? std::string("the new head") : hit->after.substr(0, 12)) +
                 (hit->forced ? " (forced push)" : "") + (hit->created ? " (branch created)" : "");
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace gitsyncd
