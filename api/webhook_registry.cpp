#include "api/webhook_registry.h"

namespace gitsyncd {
namespace {

bool Ours(const RemoteHook& h, const std::string& prefix) { return h.url.rfind(prefix, 0) == 0; }

// The hook to keep among ours: one already right, else one with the right URL, else the first.
size_t Keeper(const std::vector<const RemoteHook*>& ours, const std::string& url) {
  for (size_t i = 0; i < ours.size(); ++i) {
    if (ours[i]->url == url && ours[i]->as_wanted) return i;
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    if (ours[i]->url == url) return i;
  }
  return 0;
}

}  // namespace

Result<HookChanges> EnsureHook(RepoHooks& api, const WantedHook& hook, const std::string& url_prefix,
                               bool secret_changed, bool dry_run, bool create) {
  if (hook.url.rfind(url_prefix, 0) != 0) return Status::InvalidArgument("the hook URL is not under " + url_prefix);
  auto listed = api.ListHooks();
  if (!listed.ok()) return listed.status();
  std::vector<const RemoteHook*> ours;
  for (const auto& h : *listed) {
    if (Ours(h, url_prefix)) ours.push_back(&h);
  }
  HookChanges out;
  std::string repo = api.RepoName();
  if (ours.empty() && !create) {
    out.actions.push_back(repo + ": no gitsyncd webhook registered (left as it is)");
    return out;
  }
  if (ours.empty()) {
    out.actions.push_back(repo + ": create the webhook");
    ++out.created;
    if (!dry_run) {
      if (Status s = api.CreateHook(hook); !s.ok()) return s;
    }
    return out;
  }
  size_t keep = Keeper(ours, hook.url);
  const RemoteHook& k = *ours[keep];
  if (k.url != hook.url || !k.as_wanted || secret_changed) {
    std::string why = k.url != hook.url ? "an old token in its URL" : !k.as_wanted ? k.drift : "a new secret";
    out.actions.push_back(repo + ": update webhook " + k.id + " (" + why + ")");
    ++out.updated;
    if (!dry_run) {
      if (Status s = api.UpdateHook(k.id, hook); !s.ok()) return s;
    }
  } else {
    out.actions.push_back(repo + ": webhook " + k.id + " is up to date");
    ++out.kept;
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    if (i == keep) continue;
    out.actions.push_back(repo + ": remove duplicate webhook " + ours[i]->id);
    ++out.removed;
    if (!dry_run) {
      if (Status s = api.DeleteHook(ours[i]->id); !s.ok()) return s;
    }
  }
  return out;
}

Result<HookChanges> RemoveHooks(RepoHooks& api, const std::string& url_prefix, bool dry_run) {
  auto listed = api.ListHooks();
  if (!listed.ok()) return listed.status();
  HookChanges out;
  for (const auto& h : *listed) {
    if (!Ours(h, url_prefix)) continue;
    out.actions.push_back(api.RepoName() + ": remove webhook " + h.id);
    ++out.removed;
    if (!dry_run) {
      if (Status s = api.DeleteHook(h.id); !s.ok()) return s;
    }
  }
  return out;
}

}  // namespace gitsyncd
