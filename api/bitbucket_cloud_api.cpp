#include "api/bitbucket_cloud_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>

#include <functional>
#include <set>

#include "api/api_answer.h"
#include "config/text.h"
#include "api/comma_list.h"
#include "config/url_encode.h"
#include "api/multipart.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

// What a write needs, as Bitbucket names it for each credential kind.
constexpr const char* kWriteRight =
    "the 'repository:write' scope (access tokens), or Repositories: Write (app passwords and API tokens)";
using namespace api_answer;  // the readers of untrusted JSON answers

// A folder is listed this many levels deep per request; deeper directories get their own.
constexpr int kMaxDepth = 32;


// Follows a paginated answer's "next" links (which must stay under `base`: the token goes
// along), handing each page's "values" entries to `each`.
Status ForEachValue(std::string url, const std::string& base, const std::string& what,
                    const std::function<Result<HttpsResponse>(const std::string&)>& get,
                    const std::function<Status(const json::value&)>& each) {
  for (int pages = 0; !url.empty(); ++pages) {
    if (pages > 10000) return Status::Corrupted(what + ": the listing never ends (over 10000 pages)");
    auto res = get(url);
    if (!res.ok()) return res.status();
    auto v = api_answer::ParseJson(*res, what);
    if (!v.ok()) return v.status();
    const json::value* values = Member(*v, "values");
    if (!values || !values->is_array()) return Status::Corrupted(what + ": the API answer has no 'values' list");
    for (const json::value& e : values->as_array()) {
      if (Status s = each(e); !s.ok()) return s;
    }
    url = Str(Member(*v, "next"));
    if (!url.empty() && url.rfind(base + "/", 0) != 0) {
      return Status::Corrupted(what + ": the next page link leaves " + base);
    }
  }
  return Status::Ok();
}

bool HasAttribute(const json::value& entry, std::string_view name) {
  const json::value* attrs = Member(entry, "attributes");
  if (!attrs || !attrs->is_array()) return false;
  for (const json::value& a : attrs->as_array()) {
    if (a.is_string() && a.as_string() == name) return true;
  }
  return false;
}

}  // namespace

BitbucketCloudApi::BitbucketCloudApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  target_.api_base = WithoutTrailingSlashes(target_.api_base);
  if (target_.api_base.empty()) target_.api_base = std::string(DefaultApiBase(Provider::kBitbucketCloud));
  repo_url_ = target_.api_base + "/2.0/repositories/" + UrlEncodePath(target_.repo);
}

Result<HttpsResponse> BitbucketCloudApi::Call(const std::string& url, const std::string& what,
                                              const std::string& download_to, uint64_t max) {
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  return api_answer::Checked(ApiGet(client_, target_, url, headers, download_to, max), what, target_.api_base,
                             target_.repo, "repository read");
}

// Repository, project and workspace access tokens (and OAuth tokens) name their scopes in
// X-OAuth-Scopes and their kind in X-Credential-Type ("repo_access_token", ...); see
// https://support.atlassian.com/bitbucket-cloud/kb/how-to-fetch-the-scope-of-a-token-via-command-line.
// App passwords and API tokens report neither. Reading the repository proves read access.
Result<ApiAccess> BitbucketCloudApi::CheckAccess() {
  auto res = Call(repo_url_, "repository " + target_.repo);
  if (!res.ok()) return res.status();
  ApiAccess access;
  auto scopes = res->headers.find("x-oauth-scopes");
  if (scopes == res->headers.end()) return access;
  access.scopes_reported = true;
  access.scopes = scopes->second;
  auto kind = res->headers.find("x-credential-type");
  std::string token = kind == res->headers.end() ? "the token" : "the " + kind->second;
  // Older scope names, then the API tokens' "<action>:<resource>:bitbucket" form.
  static const std::set<std::string> kWrite = {"repository:write", "repository:admin", "write:repository:bitbucket",
                                               "admin:repository:bitbucket"};
  bool write = false;
  for (const std::string& scope : CommaList(access.scopes)) write = write || kWrite.count(scope) > 0;
  access.can_write = write;
  access.write_needs = "the 'repository:write' scope (" + token + " has: " + access.scopes + ")";
  return access;
}

Result<std::string> BitbucketCloudApi::BranchHead(const std::string& branch) {
  std::string what = "branch " + branch + " of " + target_.repo;
  auto res = Call(repo_url_ + "/refs/branches/" + UrlEncodeComponent(branch), what);
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, what);
  if (!v.ok()) return v.status();
  std::string hash = Str(Member(Member(*v, "target"), "hash"));
  if (!IsObjectId(hash)) return Status::Corrupted(what + ": the API answer has no target hash");
  return hash;
}

Status BitbucketCloudApi::ListDirectory(const std::string& commit, const std::string& folder, const std::string& dir,
                                        std::vector<RemoteEntry>* out, int depth) {
  if (depth > 64) return Status::Corrupted("folder listing nests too deep under " + dir);
  std::string prefix = folder.empty() ? "" : folder + "/";
  std::string shown = dir.empty() ? std::string("/") : dir;
  std::string url = repo_url_ + "/src/" + commit + "/" + UrlEncodePath(dir) + (dir.empty() ? "" : "/") +
                    "?max_depth=" + std::to_string(kMaxDepth) + "&pagelen=100";
  // Directories listed without any of their entries (deeper than max_depth, or a server that
  // lists fewer levels than asked) get a listing of their own.
  std::set<std::string> dirs, parents;
  Status listed = ForEachValue(
      url, target_.api_base, "folder " + shown, [&](const std::string& u) { return Call(u, "folder " + shown); },
      [&](const json::value& e) -> Status {
        std::string full = Str(Member(e, "path"));
        if (Status s = CheckRemotePath(full); !s.ok()) return s;
        if (full.compare(0, prefix.size(), prefix) != 0 || full.size() == prefix.size()) {
          return Status::Corrupted("folder " + shown + ": entry " + full + " is outside the folder");
        }
        std::string rel = full.substr(prefix.size());
        if (NamesDotGit(rel)) return Status::Ok();
        parents.insert(full.rfind('/') == std::string::npos ? std::string() : full.substr(0, full.rfind('/')));
        std::string type = Str(Member(e, "type"));
        if (type == "commit_directory") {
          dirs.insert(full);
          return Status::Ok();
        }
        if (type != "commit_file") {
          return Status::Corrupted("folder " + shown + ": entry " + full + " has unknown type '" + type + "'");
        }
        RemoteEntry r;
        r.path = rel;
        r.repo_path = full;
        r.commit = commit;
        if (HasAttribute(e, "subrepository")) {
          r.kind = RemoteEntry::Kind::kSubmodule;
        } else if (HasAttribute(e, "link")) {
          r.kind = RemoteEntry::Kind::kSymlink;
        } else {
          r.executable = HasAttribute(e, "executable");
        }
        if (const json::value* size = Member(e, "size"); size && size->is_number()) {
          r.size = size->to_number<uint64_t>();
          r.size_known = true;
        }
        out->push_back(std::move(r));
        return Status::Ok();
      });
  if (!listed.ok()) {
    if (listed.code() == Status::Code::kNotFound && dir == folder) {
      return Status::NotFound("folder " + folder + " does not exist at commit " + commit);
    }
    return listed;
  }
  for (const std::string& d : dirs) {
    if (parents.count(d)) continue;
    if (Status s = ListDirectory(commit, folder, d, out, depth + 1); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<RemoteEntry>> BitbucketCloudApi::ListFolder(const std::string& commit, const std::string& path) {
  std::vector<RemoteEntry> out;
  if (Status s = ListDirectory(commit, path, path, &out, 0); !s.ok()) return s;
  return out;
}

Status BitbucketCloudApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call(repo_url_ + "/src/" + entry.commit + "/" + UrlEncodePath(entry.repo_path), "file " + entry.path, file,
                  1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}

Result<std::vector<std::string>> BitbucketCloudApi::ChangedFiles(const std::string& from, const std::string& to) {
  // "{new}..{old}" with merge=false: a plain tree diff, as `git diff old new` would give.
  std::string what = "changes from " + from + " to " + to;
  std::set<std::string> paths;
  Status s = ForEachValue(
      repo_url_ + "/diffstat/" + to + ".." + from + "?merge=false&pagelen=500", target_.api_base, what,
      [&](const std::string& u) { return Call(u, what); },
      [&](const json::value& e) {
        for (const char* side : {"old", "new"}) {
          std::string p = Str(Member(Member(e, side), "path"));
          if (!p.empty()) paths.insert(p);
        }
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return std::vector<std::string>(paths.begin(), paths.end());
}

Result<std::string> BitbucketCloudApi::Commit(const CommitRequest& req) {
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  auto moved = [](int st, const std::string&) { return st == 409; };
  if (req.changes.empty()) {
    headers.emplace_back("Content-Type", "application/json");
    std::string body = json::serialize(json::object{{"name", req.branch}, {"target", json::object{{"hash", req.parent}}}});
    auto res = api_answer::CheckedWrite(ApiSend(client_, target_, "POST", repo_url_ + "/refs/branches", headers, body),
                                        "Bitbucket Cloud: create branch " + req.branch, target_.api_base,
                                        target_.repo, kWriteRight, moved);
    if (!res.ok()) return res.status();
    return req.parent;
  }
  MultipartBody form;
  form.AddField("message", req.message);
  form.AddField("author", req.author_name + " <" + req.author_email + ">");
  // With an existing branch, `parents` is asserted to be its head (409 otherwise); a new
  // branch is created on it.
  form.AddField("parents", req.parent);
  form.AddField("branch", req.branch);
  for (const FileChange& c : req.changes) {
    // A leading slash keeps a file named like a meta field ("message") a file.
    if (c.kind == FileChange::Kind::kDelete) {
      form.AddField("files", "/" + c.path);
    } else {
      form.AddFile("/" + c.path, c.path.substr(c.path.rfind('/') + 1), c.content,
                   c.executable ? "x-attributes:\"executable\"" : "");
    }
  }
  std::string body = form.Finish();
  headers.emplace_back("Content-Type", form.ContentType());
  std::string what = "Bitbucket Cloud: commit " + std::to_string(req.changes.size()) + " file(s) to " + req.branch;
  auto res = api_answer::CheckedWrite(ApiSend(client_, target_, "POST", repo_url_ + "/src", headers, body), what,
                                      target_.api_base, target_.repo, kWriteRight, moved);
  if (!res.ok()) return res.status();
  // The new commit is named only by the Location header: .../commit/{hash}.
  std::string location = res->Header("location");
  std::string hash = location.substr(location.rfind('/') + 1);
  if (!IsObjectId(hash)) {
    return Status::Conflict(what + ": written, but the answer names no new commit (Location: '" + location +
                            "'); fetching it and merging again");
  }
  return hash;
}

Result<std::vector<RemoteRepo>> BitbucketCloudApi::ListRepositories(const std::string& account) {
  std::vector<RemoteRepo> out;
  std::string what = "repositories of workspace " + account;
  Status s = ForEachValue(
      target_.api_base + "/2.0/repositories/" + UrlEncodeComponent(account) + "?pagelen=100", target_.api_base, what,
      [&](const std::string& u) {
        HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
        return api_answer::Checked(ApiGet(client_, target_, u, headers), what, target_.api_base, account,
                                   "repository read");
      },
      [&](const json::value& r) {
        RemoteRepo repo;
        repo.name = Str(Member(r, "slug"));
        repo.full_name = Str(Member(r, "full_name"));
        repo.default_branch = Str(Member(Member(r, "mainbranch"), "name"));
        if (!repo.name.empty()) out.push_back(std::move(repo));
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace gitsyncd
