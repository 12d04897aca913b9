#include "api/azure_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>

#include "api/api_answer.h"

#include "api/gitlab_api.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using api_answer::IsObjectId;
using api_answer::Member;
using api_answer::Str;
using api_answer::True;



}  // namespace

AzureApi::AzureApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  // target.repo comes from the clone URL path: {org}/{project}/_git/{repo} (or {collection}/...).
  std::string path = target_.repo;
  auto git = path.find("/_git/");
  repo_ = git == std::string::npos ? path.substr(path.rfind('/') + 1) : path.substr(git + 6);
  base_ = target_.api_base;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.empty()) base_ = "https://dev.azure.com/" + (git == std::string::npos ? path : path.substr(0, git));
  auth_ = "Basic " + api_answer::Base64Encode(":" + target_.token);
}

Result<HttpsResponse> AzureApi::Call(const std::string& path, const std::string& query, const std::string& what,
                                     const std::string& download_to, uint64_t max) {
  HeaderList headers{{"Authorization", auth_}, {"Accept", download_to.empty() ? "application/json" : "application/octet-stream"}};
  std::string url = base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_) + path + "?" +
                    (query.empty() ? "" : query + "&") + "api-version=7.1";
  auto res = ApiGet(client_, target_, url, headers, download_to, max);
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
    if (rel == ".git" || rel.rfind(".git/", 0) == 0 || rel.find("/.git/") != std::string::npos) continue;
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
  std::string url = base_ + "/_apis/git/repositories/" + UrlEncodeComponent(repo_) + path + "?api-version=7.1";
  return api_answer::CheckedWrite(ApiSend(client_, target_, "POST", url, headers, body), "Azure Repos: " + what, base_,
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
      change["newContent"] = json::object{{"content", api_answer::Base64Encode(c.content)}, {"contentType", "base64encoded"}};
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

}  // namespace gitsyncd

namespace gitsyncd {

Result<std::vector<RemoteRepo>> AzureApi::ListRepositories(const std::string& account) {
  std::string base = target_.api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.empty()) base = "https://dev.azure.com/" + account;
  HeaderList headers{{"Authorization", auth_}, {"Accept", "application/json"}};
  auto res = api_answer::Checked(ApiGet(client_, target_, base + "/_apis/git/repositories?api-version=7.1", headers),
                                 "repositories of " + account, base, account, "Code (read)");
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
