// Reading a branch's folder through a provider's REST API instead of Git (`fetch: api`), for
// repositories too large to clone: the branch head with one cheap request, the folder's file
// list, and single files streamed to disk. Entries carry Git blob ids (where the provider lists
// them), so unchanged files are never downloaded again and every download can be checked
// against its id. Writing back goes through the provider's commit API: one commit on top of a
// known parent, and the branch moved only if it is still there (never forced).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/https_client.h"
#include "api/rate_limit.h"
#include "config/config.h"
#include "config/provider.h"
#include "base/status.h"

namespace gitsyncd {

struct RemoteEntry {
  enum class Kind { kFile, kSymlink, kSubmodule };
  std::string path;  // relative to the folder, '/'-separated, checked safe
  Kind kind = Kind::kFile;
  bool executable = false;
  std::string blob_id;  // Git object id (hex); empty when the provider lists none (Bitbucket Cloud)
  uint64_t size = 0;
  bool size_known = false;  // `size` is what the listing said (checked after a download without blob id)
  std::string repo_path;  // path from the repository root
  std::string commit;     // the commit it was listed at
};

// A tree entry as GitHub and GitLab list it: `type` blob, tree or commit and Git's octal `mode`
// ("160000" a submodule, "120000" a symlink, "100755" an executable file). Sets the entry's
// kind; false for a type that is not a file, symlink or submodule.
bool SetKindFromGitMode(const std::string& type, const std::string& mode, RemoteEntry* entry);

struct ApiTarget {
  Provider provider = Provider::kGitHub;
  std::string api_base;  // e.g. https://api.github.com or https://ghe.example.com/api/v3
  std::string repo;      // "owner/name"
  std::string token;
  HttpsClientOptions http;
  // A rate-limit wait (or a pacing wait) longer than this fails the pass, naming until when
  // (the scheduler retries it later); shorter ones are slept through, logged and counted.
  std::chrono::seconds max_rate_limit_wait{60};
  // Pacing of content-creating requests; unset = the provider's documented limits.
  std::optional<ContentWriteLimit> content_writes;
  std::string remote_url;   // the sync's remote URL (Azure: the API base is derived from it)
  std::string api_version;  // Azure: api.version; empty = the highest the server offers, up to 7.1
};

struct ApiAccess {
  bool scopes_reported = false;  // classic tokens report scopes; fine-grained ones do not
  std::string scopes;            // as reported, e.g. "repo, read:org"
  // Whether the token may write back (commit through the API), where the provider says so;
  // `write_needs` names what is missing when it may not.
  std::optional<bool> can_write;
  std::string write_needs;
};

// One file of a commit written through the API.
struct FileChange {
  enum class Kind { kAdd, kModify, kDelete };
  Kind kind = Kind::kModify;
  std::string path;         // from the repository root
  bool executable = false;  // kAdd/kModify
  bool executable_before = false;  // kModify: the mode at the parent
  std::string blob_id_before;      // kModify: the content's id at the parent
  std::string content;      // kAdd/kModify: the whole file
  std::string blob_id;      // kAdd/kModify: its Git blob id, checked where the API reports one
};

struct CommitRequest {
  std::string branch;  // the branch to move (or to create, see new_branch)
  // The remote commit the changes apply to. For an existing branch it must still be the
  // branch's head (compare-and-swap); a new branch starts there.
  std::string parent;
  bool new_branch = false;
  std::string message;
  std::string author_name, author_email;
  std::vector<FileChange> changes;  // may be empty only for a new branch (then it points at parent)
};

// A repository of an account (organization, group, workspace, project), for `gitsyncd import`.
struct RemoteRepo {
  std::string name;          // short name, as in clone URLs
  std::string full_name;     // "org/name", "group/sub/name", "PROJECT/slug", "project/name"
  std::string default_branch;
  bool can_read = true;      // the token may read it (GitHub reports permissions per repo)
  bool archived = false;
};

class ProviderApi {
 public:
  virtual ~ProviderApi() = default;
  // Checks that the token is accepted and may read the repository; names missing scopes, and
  // reports whether it may write where the provider tells.
  virtual Result<ApiAccess> CheckAccess() = 0;
  // The commit id at the head of `branch`; NotFound when the branch does not exist.
  virtual Result<std::string> BranchHead(const std::string& branch) = 0;
  // Every entry under `path` ("" = root) at `commit`, paths relative to `path`. Entries that
  // would escape the folder (absolute, "..", NUL, backslash) make this fail; ".git" entries
  // are left out.
  virtual Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) = 0;
  // Streams the file's content into `file` (bounded memory). Stateless: several readers of
  // one target may download the entries of one listing in parallel.
  virtual Status Download(const RemoteEntry& entry, const std::string& file) = 0;
  // Repository paths (from the root) whose content or mode differs between commits `from` and
  // `to`. Only for readers whose listings carry no blob ids (see ListsBlobIds).
  virtual Result<std::vector<std::string>> ChangedFiles(const std::string& from, const std::string& to);
  virtual bool ListsBlobIds() const { return true; }
  // Writes `request` as one new commit (Bitbucket Server: one commit per file) and moves the
  // branch to it, never forced. Returns the branch's new head. Conflict when the branch moved
  // (the compare-and-swap failed, or a changed file was changed there meanwhile): the caller
  // fetches, merges and tries again. Errors name the provider, the step and the file.
  virtual Result<std::string> Commit(const CommitRequest& request);
  // Every repository of `account` (all pages). `account` is the account URL's path:
  // "org" (GitHub, Gitea, Gogs), "group/subgroup" (GitLab, subgroups included), "PROJECT"
  // (Bitbucket Server), "org/project" (Azure). Also checks the token may list them.
  virtual Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account);
  // The API base URL the reader uses (as derived from the remote URL when api.url is unset).
  virtual std::string ApiBase() const = 0;
};

// The API target of one repository of `connector` (its clone URL `remote_url`), with the
// daemon's CA file and I/O timeout.
ApiTarget ConnectorApiTarget(const DaemonConfig& daemon, const ConnectorConfig& connector,
                             const std::string& remote_url, const std::string& token);

// The reader for the target's provider; an error names providers not supported yet.
Result<std::unique_ptr<ProviderApi>> MakeProviderApi(const ApiTarget& target);

// A GET with the provider's rate limits and transient failures handled: a rate-limit answer
// (see RateLimitAnswer) is waited out as the provider asks, up to max_rate_limit_wait (else it
// fails saying until when); 5xx and dropped connections are retried 3 times with backoff.
// A download (`download_to` set) follows redirects (301, 302, 303, 307, 308) up to 5 hops,
// to https:// URLs only, and sends the credentials (Authorization, PRIVATE-TOKEN) only to the
// host and port of `url`. Other statuses are returned to the caller.
Result<HttpsResponse> ApiGet(HttpsClient& client, const ApiTarget& target, const std::string& url,
                             const HeaderList& headers, const std::string& download_to = "",
                             uint64_t max_download = 0);

// A write (POST, PUT, PATCH) with rate limits waited out like ApiGet, paced below the
// provider's content-creation limits (target.content_writes), but sent only once otherwise: 5xx answers and dropped connections are returned (the write may have landed;
// the caller's next pass finds out through the compare-and-swap).
Result<HttpsResponse> ApiSend(HttpsClient& client, const ApiTarget& target, const std::string& method,
                              const std::string& url, const HeaderList& headers, const std::string& body);

}  // namespace gitsyncd
