// Which sync bindings a push concerns. A connector with a repo URL holds one repository; an
// account connector holds many (each binding names its repo). A binding is queued when its
// repository and branch match a moved branch of the push and it pulls (pull or
// bidirectional); every other binding gets a recorded reason.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "webhooks/push_event.h"

namespace gitsyncd {

struct RouteDecision {
  std::string binding;
  bool queue = false;
  std::string reason;  // why (not) queued, for the delivery record and the 202 body
  std::string commit;  // when queued: the branch's new head as the delivery names it ("" if not)
};

std::vector<RouteDecision> RoutePush(const ConnectorConfig& connector, const PushEvent& event);

// True when the payload's repository is the binding's: compared case-insensitively without
// ".git", as "owner/name" against the end of the binding's clone URL path, or by short name.
bool SameRepository(const SyncBinding& binding, const PushEvent& event);

}  // namespace gitsyncd
