#include "sync/connection_check.h"

#include "sync/remote_ops.h"

namespace gitsyncd {

Result<ConnectionReport> CheckConnection(const RemoteCredentials& creds, const std::string& branch) {
  auto refs = ListRemoteRefs(creds);
  if (!refs.ok()) return refs.status();
  ConnectionReport report;
  report.url = creds.url;
  report.ref_count = refs->size();
  std::vector<std::string> branches;
  for (const auto& r : *refs) {
    if (r.name == "refs/heads/" + branch) report.branch_head = r.oid;
    if (r.name.rfind("refs/heads/", 0) == 0) branches.push_back(r.name.substr(11));
  }
  if (!report.branch_head.empty()) return report;
  if (branches.empty()) {
    return Status::NotFound("no such branch '" + branch + "' at " + creds.url +
                            ": the repository is empty (the first sync will create the branch)");
  }
  std::string some;
  for (size_t i = 0; i < branches.size() && i < 5; ++i) some += (i ? ", " : "") + branches[i];
  if (branches.size() > 5) some += ", ...";
  return Status::NotFound("no such branch '" + branch + "' at " + creds.url + " (it has: " + some + ")");
}

}  // namespace gitsyncd
