// Bitbucket Cloud's REST API 2.0, following
// https://developer.atlassian.com/cloud/bitbucket/rest/ :
//   GET /2.0/repositories/{workspace}?pagelen=100 -> {"values": [{"slug", "full_name", "mainbranch": {"name"}}], "next"}
// Used to list a workspace's repositories for `gitsyncd import` (token: Bearer). Reading a
// folder (fetch: api) is not implemented for Bitbucket Cloud: its `src` listings carry no blob
// ids, so "download only what changed, checked against its id" needs its diffstat API first.
#pragma once

#include "api/provider_api.h"

namespace gitsyncd {

class BitbucketCloudApi : public ProviderApi {
 public:
  explicit BitbucketCloudApi(ApiTarget target);
  Result<ApiAccess> CheckAccess() override;
  Result<std::string> BranchHead(const std::string& branch) override;
  Result<std::vector<RemoteEntry>> ListFolder(const std::string& commit, const std::string& path) override;
  Status Download(const RemoteEntry& entry, const std::string& file) override;
  Result<std::vector<RemoteRepo>> ListRepositories(const std::string& account) override;

 private:
  ApiTarget target_;
  HttpsClient client_;
};

}  // namespace gitsyncd
