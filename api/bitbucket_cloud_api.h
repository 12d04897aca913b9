// Bitbucket Cloud's REST API 2.0, following https://developer.atlassian.com/cloud/bitbucket/rest/
// ({base} is api.url, default https://api.bitbucket.org; repositories are {workspace}/{repo}):
//   GET  /2.0/repositories/{workspace}?pagelen=100 -> {"values": [{"slug", "full_name", "mainbranch": {"name"}}], "next"}
//   GET  /2.0/repositories/{ws}/{repo}                                  (the repository: access check)
//   GET  /2.0/repositories/{ws}/{repo}/refs/branches/{name}             -> {"target": {"hash"}}
//   GET  /2.0/repositories/{ws}/{repo}/src/{commit}/{path}/?max_depth=&pagelen=
//        -> {"values": [{"type": commit_file|commit_directory, "path", "size", "attributes": [executable|link|
//        subrepository|...]}], "next"}; the same URL on a file answers its raw bytes
//   GET  /2.0/repositories/{ws}/{repo}/diffstat/{new}..{old}?merge=false -> {"values": [{"status", "old": {"path"},
//        "new": {"path"}}], "next"}  (note the order: the commit with the changes first)
//   POST /2.0/repositories/{ws}/{repo}/src  multipart: message, author ("Name <email>"), parents, branch, one
//        field per written file (Content-Disposition `x-attributes:"executable"` for executables, the form the
//        docs show), `files` per deleted file
//        -> 201, Location: .../commit/{hash}; 409 when `parents` is not the branch's head (it moved)
//   POST /2.0/repositories/{ws}/{repo}/refs/branches {"name", "target": {"hash"}}  (a new branch at a commit)
// Auth: Bearer (repository, workspace or OAuth access token).
// Listings carry no Git blob ids: the reader says so (ListsBlobIds() is false) and offers the
// diffstat between two commits instead, so a fetch downloads only the files that changed.
#pragma once

#include "api/provider_api.h"

namespace gitsyncd {

class BitbucketCloudApi : public ProviderApi {
 public:
  explicit BitbucketCloudApi(ApiTarget target);
  Result<ApiAccess> CheckAccess() override;
  std::string ApiBase() const override { return target_.api_base; }
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  Result<std::vector<std::string>> ChangedFiles(const std::string& from, const std::string& to) override;
  bool ListsBlobIds() const override { return false; }
  Result<std::string> Commit(const CommitRequest& request) override;
  Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account) override;

 private:
  // GET {base}{path} (or a full `url` from a "next" link, which must stay in {base}).
  Result<HttpsResponse> Call(const std::string& url, const std::string& what, const std::string& download_to = "",
                             uint64_t max = 0);
  Status ListDirectory(const std::string& commit, const std::string& folder, const std::string& dir,
                       std::vector<RemoteEntry>* out, int depth);
  ApiTarget target_;
  HttpsClient client_;
  std::string repo_url_;  // {base}/2.0/repositories/{ws}/{repo}
};

}  // namespace gitsyncd
