#include "api/azure_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "api/api_answer.h"
#include "config/base64.h"
#include "config/text.h"

#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers



}  // namespace

std::string AzureApiBase(const std::string& remote_url) {
  // SSH: git@ssh.dev.azure.com:v3/{org}/{project}/{repo}, ssh://git@ssh.dev.azure.com/v3/...,
  // {org}@vs-ssh.visualstudio.com:v3/{org}/{project}/{repo}: the org and project follow "v3/".
  for (const char* host : {"ssh.dev.azure.com", "vs-ssh.visualstudio.com"}) {
    size_t at = remote_url.find(host);
    size_t v3 = at == std::string::npos ? at : remote_url.find("v3/", at);
    if (v3 == std::string::npos || remote_url.find("https://") == 0) continue;
    std::string rest = remote_url.substr(v3 + 3);
    size_t first = rest.find('/');
    if (first == std::string::npos || first == 0) return "";
    size_t second = rest.find('/', first + 1);
    std::string project = rest.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    if (project.empty()) return "";
    return "https://dev.azure.com/" + rest.substr(0, first) + "/" + project;
  }
  // HTTPS: https://[user@]dev.azure.com/{org}/{project}/_git/{repo},
  // https://{org}.visualstudio.com/[DefaultCollection/]{project}/_git/{repo}, and Azure DevOps
  // Server's https://host[:port]/[tfs/]{collection}/{project}/_git/{repo}: everything before
  // "/_git/" (an account URL has none: all of it). With no project before "/_git/", the
  // project is named like the repository.
  auto u = boost::urls::parse_absolute_uri(remote_url);
  if (!u || u->scheme() != "https") return "";
  std::string path(u->encoded_path());
  std::string base_path = path, repo;
  if (size_t git = path.find("/_git/"); git != std::string::npos) {
    base_path = path.substr(0, git);
    repo = path.substr(git + 6);
    if (size_t slash = repo.find('/'); slash != std::string::npos) repo.resize(slash);
    if (repo.size() > 4 && repo.compare(repo.size() - 4, 4, ".git") == 0) repo.resize(repo.size() - 4);
  }
  base_path = WithoutTrailingSlashes(base_path);
  std::string host(u->encoded_host());
  bool services_org_only = (host == "dev.azure.com" && std::count(base_path.begin(), base_path.end(), '/') == 1) ||
                           (host.size() > 17 && host.compare(host.size() - 17, 17, ".visualstudio.com") == 0 &&
                            base_path.empty());
  if (services_org_only && !repo.empty()) base_path += "/" + repo;
  return "https://" + host + (u->has_port() ? ":" + std::string(u->port()) : "") + base_path;
}

AzureApi::AzureApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  // target.repo comes from the clone URL path: {org}/{project}/_git/{repo} (or {collection}/...).
  std::string path = target_.repo;
  auto git = path.find("/_git/");
  repo_ = git == std::string::npos ? path.substr(path.rfind('/') + 1) : path.substr(git + 6);
  base_ = target_.api_base;
  base_ = WithoutTrailingSlashes(base_);
  if (base_.empty() && !target_.remote_url.empty()) base_ = AzureApiBase(target_.remote_url);
  if (base_.empty()) base_ = "https://dev.azure.com/" + (git == std::string::npos ? path : path.substr(0, git));
  version_ = target_.api_version.empty() ? "7.1" : target_.api_version;
  auth_ = "Basic " + Base64Encode(":" + target_.token);
}

// Azure DevOps Services serves 7.1; Azure DevOps Server serves up to its own version (2019:
// 5.0/5.1, 2020: 6.0, 2022: 7.0) and answers a newer one with 400
// VssVersionOutOfRangeException "The requested REST API version of 7.1 is out of range for
// this server. The latest REST API version for this server is 7.0."
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/#api-and-tfs-version-mapping):
// then the server's latest is used from there on. An api.version set by hand is never changed.
Result<HttpsResponse> AzureApi::Versioned(const std::function<Result<HttpsResponse>(const std::string&)>& send) {
  // What a server said once holds for every reader of the process (a pass opens several).
  static std::mutex mu;
  static std::map<std::string, std::string> learned;  // API base -> its latest version
  if (target_.api_version.empty()) {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = learned.find(base_); it != learned.end()) version_ = it->second;
  }
  auto res = send(version_);
  if (!res.ok() || res->status != 400 || !target_.api_version.empty()) return res;
  static const std::string kLatest = "latest REST API version for this server is ";
  size_t at = res->body.find(kLatest);
  if (at == std::string::npos) return res;
  std::string latest;
  for (size_t i = at + kLatest.size(); i < res->body.size() && latest.size() < 16; ++i) {
    char c = res->body[i];
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') break;
    latest += c;
  }
  while (!latest.empty() && latest.back() == '.') latest.pop_back();
  if (latest.empty() || latest == version_) return res;
  spdlog::info("api: {} serves REST API version {} at most; using it", base_, latest);
  version_ = latest;
  {
    std::lock_guard<std::mutex> lock(mu);
    learned[base_] = latest;
  }
  return send(version_);
}

Result<HttpsResponse> AzureApi::Call(const std::string& path, const std::string& query, const std::string& what,
                                     const std::string& download_to, uint64_t max) {
  HeaderList headers{{"Authorization", auth_}, {"Accept", download_to.empty() ? "application/json" : "application/octet-stream"}};
  auto res = Versioned([&](const std::string& version) {
    std::string url = base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_) + path + "?" +
                      (query.empty() ? "" : query + "&") + "api-version=" + version;
    return ApiGet(client_, target_, url, headers, download_to, max);
  });
  return api_answer::Checked(std::move(res), what, base_, repo_, "Code (read)");
}

Result<ApiAccess> AzureApi::CheckAccess() {
  auto res = Call("", "", "repository " + repo_);
  if (!res.ok()) return res.status();
  return ApiAccess{};  // PAT scopes are not reported by the API
}

Result<std::string> AzureApi::BranchHead(const std::string& branch) {
  auto res = Call("/refs", "filter=heads/" + UrlEncodeComponent(branch), "branch " + branch + " of " + repo_);
  if (!res.ok()) return res.status();
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  const json::value* refs = ec ? nullptr : Member(v, "value");
  if (!refs || !refs->is_array()) return Status::Corrupted("branch " + branch + ": the API answer has no 'value' list");
  for (const json::value& r : refs->as_array()) {  // the filter is a prefix match
    if (Str(Member(r, "name")) == "refs/heads/" + branch) {
      std::string id = Str(Member(r, "objectId"));
      if (!IsObjectId(id)) return Status::Corrupted("branch " + branch + ": invalid objectId '" + id + "'");
      return id;
    }
  }
  return Status::NotFound("branch " + branch + " of " + repo_ + ": no such branch");
}

Result<std::vector<RemoteEntry>> AzureApi::ListFolder(const std::string& commit, const std::string& path) {
  std::string scope = "/" + path;
  auto res = Call("/items",
                  "scopePath=" + UrlEncodeComponent(scope) + "&recursionLevel=Full&versionDescriptor.version=" + commit +
                      "&versionDescriptor.versionType=commit",
                  "items of " + scope);
  if (!res.ok()) {
    if (res.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("folder " + path + " does not exist at commit " + commit);
    }
    return res.status();
  }
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  const json::value* items = ec ? nullptr : Member(v, "value");
  if (!items || !items->is_array()) return Status::Corrupted("items of " + scope + ": the API answer has no 'value' list");
  std::string prefix = path.empty() ? "/" : scope + "/";
  std::vector<RemoteEntry> out;
  for (const json::value& it : items->as_array()) {
    std::string full = Str(Member(it, "path"));
    if (full == scope || (path.empty() && full == "/")) continue;  // the folder itself
    if (full.compare(0, prefix.size(), prefix) != 0) {
      return Status::Corrupted("items of " + scope + ": entry " + full + " is outside the folder");
    }
    std::string rel = full.substr(prefix.size());
    if (Status s = CheckRemotePath(rel); !s.ok()) return s;
    if (NamesDotGit(rel)) continue;
    std::string type = Str(Member(it, "gitObjectType"));
    if (True(Member(it, "isFolder")) || type == "tree") continue;
    std::string id = Str(Member(it, "objectId"));
    if (!IsObjectId(id)) return Status::Corrupted("items of " + scope + ": entry " + full + " has no valid objectId");
    RemoteEntry r;
    r.path = rel;
    r.repo_path = full.substr(1);
    r.commit = commit;
    r.blob_id = id;
    if (type == "commit") {
      r.kind = RemoteEntry::Kind::kSubmodule;
    } else if (True(Member(it, "isSymLink"))) {
      r.kind = RemoteEntry::Kind::kSymlink;
    } else if (type != "blob") {
      return Status::Corrupted("items of " + scope + ": entry " + full + " has unknown type '" + type + "'");
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<HttpsResponse> AzureApi::Write(const std::string& path, const std::string& body, const std::string& what) {
  HeaderList headers{{"Authorization", auth_}, {"Accept", "application/json"}, {"Content-Type", "application/json"}};
  auto res = Versioned([&](const std::string& version) {
    std::string url = base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_) + path + "?api-version=" + version;
    return ApiSend(client_, target_, "POST", url, headers, body);
  });
  return api_answer::CheckedWrite(std::move(res), "Azure Repos: " + what, base_,
                                  repo_, "Code (read & write)", [](int st, const std::string& answer) {
                                    // TF401028: the reference has already been updated by another client.
                                    return st == 409 || answer.find("TF401028") != std::string::npos;
                                  });
}

Result<std::string> AzureApi::Commit(const CommitRequest& req) {
  json::array changes;
  for (const FileChange& c : req.changes) {
    // Azure keeps no executable bit: a change of the mode alone has nothing to write.
    if (c.kind == FileChange::Kind::kModify && c.blob_id == c.blob_id_before) continue;
    json::object change{{"item", json::object{{"path", "/" + c.path}}}};
    if (c.kind == FileChange::Kind::kDelete) {
      change["changeType"] = "delete";
    } else {
      change["changeType"] = c.kind == FileChange::Kind::kAdd ? "add" : "edit";
      change["newContent"] = json::object{{"content", Base64Encode(c.content)}, {"contentType", "base64encoded"}};
    }
    changes.push_back(std::move(change));
  }
  std::string ref = "refs/heads/" + req.branch;
  if (changes.empty()) {
    if (!req.new_branch) return req.parent;
    json::array update{json::object{{"name", ref}, {"oldObjectId", std::string(40, '0')}, {"newObjectId", req.parent}}};
    auto res = Write("/refs", json::serialize(update), "create branch " + req.branch);
    if (!res.ok()) return res.status();
    auto v = api_answer::ParseJson(*res, "Azure Repos: create branch " + req.branch);
    if (!v.ok()) return v.status();
    const json::value* results = Member(*v, "value");
    const json::value* first = results && results->is_array() && !results->as_array().empty() ? &results->as_array()[0]
                                                                                               : nullptr;
    if (!first || !True(Member(*first, "success"))) {
      return Status::InvalidArgument("Azure Repos: create branch " + req.branch + " refused: " +
                                     (first ? Str(Member(*first, "updateStatus")) : std::string("no answer")));
    }
    return req.parent;
  }
  // oldObjectId is the compare-and-swap: the push is refused (409 TF401028) unless the branch
  // is still there; a branch that does not exist yet is created on it.
  json::object push{
      {"refUpdates", json::array{json::object{{"name", ref}, {"oldObjectId", req.parent}}}},
      {"commits", json::array{json::object{{"comment", req.message},
                                           {"author", json::object{{"name", req.author_name}, {"email", req.author_email}}},
                                           {"changes", std::move(changes)}}}}};
  std::string what = "push " + std::to_string(req.changes.size()) + " file(s) to " + req.branch;
  auto res = Write("/pushes", json::serialize(push), what);
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, "Azure Repos: " + what);
  if (!v.ok()) return v.status();
  const json::value* updates = Member(*v, "refUpdates");
  std::string head;
  if (updates && updates->is_array() && !updates->as_array().empty()) {
    head = Str(Member(updates->as_array()[0], "newObjectId"));
  }
  if (!IsObjectId(head)) return Status::Corrupted("Azure Repos: " + what + ": the answer names no new commit");
  return head;
}

Status AzureApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call("/blobs/" + entry.blob_id, "$format=octetstream", "file " + entry.path, file, 1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}


Result<std::vector<RemoteRepo>> AzureApi::ListRepositories(const std::string& account) {
  std::string base = target_.api_base;
  base = WithoutTrailingSlashes(base);
  if (base.empty() && !target_.remote_url.empty()) base = AzureApiBase(target_.remote_url);
  if (base.empty()) base = "https://dev.azure.com/" + account;
  HeaderList headers{{"Authorization", auth_}, {"Accept", "application/json"}};
  auto listed = Versioned([&](const std::string& version) {
    return ApiGet(client_, target_, base + "/_apis/git/repositories?api-version=" + version, headers);
  });
  auto res = api_answer::Checked(std::move(listed), "repositories of " + account, base, account, "Code (read)");
  if (!res.ok()) return res.status();
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  const json::value* values = ec ? nullptr : Member(v, "value");
  if (!values || !values->is_array()) return Status::Corrupted("repositories of " + account + ": no 'value' list");
  std::vector<RemoteRepo> out;
  for (const json::value& r : values->as_array()) {
    RemoteRepo repo;
    repo.name = Str(Member(r, "name"));
    repo.full_name = account + "/" + repo.name;
    std::string branch = Str(Member(r, "defaultBranch"));
    if (branch.rfind("refs/heads/", 0) == 0) repo.default_branch = branch.substr(11);
    repo.archived = True(Member(r, "isDisabled"));
    if (!repo.name.empty()) out.push_back(std::move(repo));
  }
  return out;
}

}  // namespace gitsyncd
