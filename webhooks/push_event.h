// What a provider's webhook delivery tells us, in one shape for every provider: which
// repository, which refs moved from which commit to which, and whether it was a ping.
#pragma once

#include <string>
#include <vector>

#include "config/provider.h"

namespace gitsyncd {

// One moved ref of a push.
struct RefChange {
  std::string ref;     // full name as sent, e.g. "refs/heads/main" (or a bare branch name)
  std::string branch;  // the branch name; empty when the ref is a tag or another kind
  std::string before;  // commit id before the push; empty or all zeros when created
  std::string after;   // commit id after the push; empty or all zeros when deleted
  bool created = false;
  bool deleted = false;
  bool forced = false;
};

// Which sender format a delivery used; several map to one connector provider.
enum class WebhookFormat {
  kGitHub,
  kBitbucketCloud,
  kBitbucketServer,      // native Bitbucket Server / Data Center webhooks
  kBitbucketPostPlugin,  // the "Post Webhooks for Bitbucket" app (Bitbucket Server)
  kGitLab,
  kAzureDevOps,
};

std::string_view WebhookFormatName(WebhookFormat f);
// The connector provider a format belongs to.
Provider WebhookFormatProvider(WebhookFormat f);

struct PushEvent {
  WebhookFormat format = WebhookFormat::kGitHub;
  std::string event;        // the provider's event name: "push", "repo:push", "Push Hook", "git.push"...
  std::string delivery_id;  // the provider's delivery id, when it sends one
  bool ping = false;        // a connectivity test, not a push
  bool push = false;        // a push event (changes below); false for other events (ignored)
  // The repository as the payload names it: "owner/name" (GitHub), "workspace/slug"
  // (Bitbucket Cloud), "PROJECT/slug" (Bitbucket Server), "group/sub/name" (GitLab),
  // "project/name" (Azure); and its short name.
  std::string repo_full_name;
  std::string repo_name;
  std::vector<RefChange> changes;
};

}  // namespace gitsyncd
