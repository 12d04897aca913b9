#include "api/bitbucket_server_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>

#include "api/api_answer.h"
#include "config/text.h"

#include "config/url_encode.h"
#include "api/multipart.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// Bitbucket answers a valid token that lacks a permission with 401 and an AuthorisationException
// ("You are not permitted to access this resource"), not 403; a refused token is 401 with an
// authentication exception. Only the first is a missing right, so it becomes the 403 it means.
Result<HttpsResponse> PermissionAs403(Result<HttpsResponse> res) {
  if (res.ok() && res->status == 401 && res->body.find("AuthorisationException") != std::string::npos) {
    res->status = 403;
  }
  return res;
}

// The permissions reads and writes need, as an HTTP access token's settings name them.
constexpr const char* kReadRight = "Repository read (REPO_READ, or Project read for a project token)";
constexpr const char* kWriteRight = "Repository write (REPO_WRITE, or Project write for a project token)";

}  // namespace

BitbucketServerApi::BitbucketServerApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  std::string base = target_.api_base;
  base = WithoutTrailingSlashes(base);
  // target.repo comes from the clone URL: scm/{key}/{slug} (HTTPS) or {key}/{slug} (SSH).
  std::string path = BitbucketServerRepoPath(target_.repo);
  auto slash = path.find('/');
  if (base.empty()) {
    setup_ = Status::InvalidArgument("fetch: api with bitbucket-server needs api.url (the server's base URL, e.g. "
                                     "https://bitbucket.example.com)");
  } else if (slash == std::string::npos || path.find('/', slash + 1) != std::string::npos) {
    setup_ = Status::InvalidArgument("cannot tell project and repository from '" + target_.repo + "'");
  }
  repo_base_ = base + "/rest/api/1.0/projects/" + UrlEncodeComponent(path.substr(0, slash)) + "/repos/" +
               UrlEncodeComponent(slash == std::string::npos ? "" : path.substr(slash + 1));
}

Result<HttpsResponse> BitbucketServerApi::Call(const std::string& path, const std::string& what,
                                               const std::string& download_to, uint64_t max) {
  if (!setup_.ok()) return setup_;
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  auto res = PermissionAs403(ApiGet(client_, target_, repo_base_ + path, headers, download_to, max));
  return api_answer::Checked(std::move(res), what, target_.api_base, target_.repo, kReadRight);
}

Result<ApiAccess> BitbucketServerApi::CheckAccess() {
  auto res = Call("", "repository " + target_.repo);
  if (!res.ok()) return res.status();
  return ApiAccess{};  // token permissions are not reported; reading the repository proves read access
}

Result<std::string> BitbucketServerApi::BranchHead(const std::string& branch) {
  std::string start = "0";
  for (int pages = 0; pages < 100; ++pages) {
    auto res = Call("/branches?filterText=" + UrlEncodeComponent(branch) + "&limit=100&start=" + start,
                    "branch " + branch + " of " + target_.repo);
    if (!res.ok()) return res.status();
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    const json::value* values = ec ? nullptr : Member(v, "values");
    if (!values || !values->is_array()) return Status::Corrupted("branches: the API answer has no 'values' list");
    for (const json::value& b : values->as_array()) {  // filterText matches substrings
      if (Str(Member(b, "id")) == "refs/heads/" + branch) {
        std::string id = Str(Member(b, "latestCommit"));
        if (!IsObjectId(id)) return Status::Corrupted("branch " + branch + ": invalid latestCommit '" + id + "'");
        return id;
      }
    }
    const json::value* last = Member(v, "isLastPage");
    const json::value* next = Member(v, "nextPageStart");
    if (!last || !last->is_bool() || last->as_bool() || !next || !next->is_number()) break;
    start = std::to_string(next->to_number<int64_t>());
  }
  return Status::NotFound("branch " + branch + " of " + target_.repo + ": no such branch");
}

Status BitbucketServerApi::ListDirectory(const std::string& commit, const std::string& folder, const std::string& rel,
                                         std::vector<RemoteEntry>* out, int depth) {
  if (depth > 64) return Status::Corrupted("folder nesting deeper than 64 under " + rel);
  std::string dir = folder.empty() ? rel : rel.empty() ? folder : folder + "/" + rel;
  int64_t start = 0;
  for (int pages = 0;; ++pages) {
    if (pages > 10000) return Status::Corrupted("listing of " + dir + " never ends");
    auto res = Call("/browse/" + UrlEncodePath(dir) + "?at=" + commit + "&limit=500&start=" + std::to_string(start),
                    "folder " + (dir.empty() ? std::string("/") : dir));
    if (!res.ok()) {
      if (res.status().code() == Status::Code::kNotFound && rel.empty()) {
        return Status::NotFound("folder " + folder + " does not exist at commit " + commit);
      }
      return res.status();
    }
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    const json::value* children = ec ? nullptr : Member(v, "children");
    const json::value* values = children ? Member(*children, "values") : nullptr;
    if (!values || !values->is_array()) return Status::Corrupted("folder " + dir + ": the API answer has no children");
    for (const json::value& c : values->as_array()) {
      const json::value* p = Member(c, "path");
      std::string name = p ? Str(Member(*p, "toString")) : "";
      if (Status s = CheckRemotePath(name); !s.ok()) return s;
      std::string child = rel.empty() ? name : rel + "/" + name;
      if (Status s = CheckRemotePath(child); !s.ok()) return s;
      if (NamesDotGit(child)) continue;
      std::string type = Str(Member(c, "type"));
      if (type == "DIRECTORY") {
        if (Status s = ListDirectory(commit, folder, child, out, depth + 1); !s.ok()) return s;
        continue;
      }
      RemoteEntry r;
      r.path = child;
      r.repo_path = folder.empty() ? child : folder + "/" + child;
      r.commit = commit;
      r.blob_id = Str(Member(c, "contentId"));
      if (type == "SUBMODULE") {
        r.kind = RemoteEntry::Kind::kSubmodule;
      } else if (type != "FILE") {
        return Status::Corrupted("folder " + dir + ": entry " + name + " has unknown type '" + type + "'");
      }
      if (!IsObjectId(r.blob_id)) return Status::Corrupted("folder " + dir + ": entry " + name + " has no valid contentId");
      if (const json::value* size = Member(c, "size"); size && size->is_number()) r.size = size->to_number<uint64_t>();
      out->push_back(std::move(r));
    }
    const json::value* last = Member(*children, "isLastPage");
    const json::value* next = Member(*children, "nextPageStart");
    if (!last || !last->is_bool() || last->as_bool() || !next || !next->is_number()) break;
    start = next->to_number<int64_t>();
  }
  return Status::Ok();
}

Result<std::vector<RemoteEntry>> BitbucketServerApi::ListFolder(const std::string& commit, const std::string& path) {
  std::vector<RemoteEntry> out;
  if (Status s = ListDirectory(commit, path, "", &out, 0); !s.ok()) return s;
  return out;
}

Result<HttpsResponse> BitbucketServerApi::Write(const std::string& method, const std::string& path,
                                                const std::string& content_type, const std::string& body,
                                                const std::string& what) {
  if (!setup_.ok()) return setup_;
  // X-Atlassian-Token: Bitbucket's XSRF check refuses multipart writes without it.
  HeaderList headers{{"Authorization", "Bearer " + target_.token},
                     {"Accept", "application/json"},
                     {"Content-Type", content_type},
                     {"X-Atlassian-Token", "no-check"}};
  return api_answer::CheckedWrite(PermissionAs403(ApiSend(client_, target_, method, repo_base_ + path, headers, body)),
                                  "Bitbucket Server: " + what, target_.api_base, target_.repo, kWriteRight,
                                  [](int st, const std::string&) { return st == 409; });
}

Result<std::string> BitbucketServerApi::Commit(const CommitRequest& req) {
  std::string deleted;
  for (const FileChange& c : req.changes) {
    if (c.kind == FileChange::Kind::kDelete) deleted += (deleted.empty() ? "" : ", ") + c.path;
  }
  if (!deleted.empty()) {
    return Status::InvalidArgument(
        "Bitbucket Server: cannot write the deletion of " + deleted + " to branch " + req.branch +
        ": its REST API has no way to delete a file (the file edit API only creates and updates files). Delete "
        "them in Bitbucket or with git, or restore them locally; nothing was written");
  }
  std::string head = req.parent;
  if (req.new_branch) {
    auto res = Write("POST", "/branches", "application/json",
                     json::serialize(json::object{{"name", req.branch}, {"startPoint", req.parent}}),
                     "create branch " + req.branch);
    if (!res.ok()) return res.status();
  }
  std::vector<const FileChange*> files;
  for (const FileChange& c : req.changes) {
    // The file edit API keeps no executable bit: a change of the mode alone has nothing to write.
    if (c.kind == FileChange::Kind::kModify && c.blob_id == c.blob_id_before) continue;
    files.push_back(&c);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const FileChange& c = *files[i];
    std::string what = "edit " + c.path + " on " + req.branch;
    MultipartBody form;
    form.AddFile("content", c.path.substr(c.path.rfind('/') + 1), c.content);
    form.AddField("message", files.size() == 1 ? req.message
                                               : req.message + "\n\n(file " + std::to_string(i + 1) + " of " +
                                                     std::to_string(files.size()) + ": " + c.path + ")");
    form.AddField("branch", req.branch);
    // The commit the file was last seen at: refused (409) if it changed on the branch since.
    if (c.kind == FileChange::Kind::kModify) form.AddField("sourceCommitId", head);
    std::string body = form.Finish();
    auto res = Write("PUT", "/browse/" + UrlEncodePath(c.path), form.ContentType(), body, what);
    if (!res.ok()) return res.status();
    auto v = api_answer::ParseJson(*res, "Bitbucket Server: " + what);
    if (!v.ok()) return v.status();
    std::string id = Str(Member(*v, "id"));
    const json::value* parents = Member(*v, "parents");
    std::string parent = parents && parents->is_array() && !parents->as_array().empty()
                             ? Str(Member(parents->as_array()[0], "id"))
                             : "";
    if (!IsObjectId(id)) return Status::Corrupted("Bitbucket Server: " + what + ": the answer has no commit id");
    if (parent != head) {
      return Status::Conflict("Bitbucket Server: " + what + ": the branch had moved (the new commit " + id +
                              " follows " + parent + ", not " + head + "); fetching and merging again");
    }
    head = id;
  }
  return head;
}

Status BitbucketServerApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call("/raw/" + UrlEncodePath(entry.repo_path) + "?at=" + entry.commit, "file " + entry.path, file, 1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}


Result<std::vector<RemoteRepo>> BitbucketServerApi::ListRepositories(const std::string& account) {
  std::string base = target_.api_base;
  base = WithoutTrailingSlashes(base);
  if (base.empty()) return Status::InvalidArgument("import from bitbucket-server needs api.url (the server's base URL)");
  HeaderList headers{{"Authorization", "Bearer " + target_.token}, {"Accept", "application/json"}};
  std::vector<RemoteRepo> out;
  int64_t start = 0;
  for (int pages = 0;; ++pages) {
    if (pages > 10000) return Status::Corrupted("repository list of " + account + " never ends");
    std::string url = base + "/rest/api/1.0/projects/" + UrlEncodeComponent(account) + "/repos?limit=100&start=" +
                      std::to_string(start);
    auto res = api_answer::Checked(PermissionAs403(ApiGet(client_, target_, url, headers)),
                                   "repositories of project " + account, base, account, "Project read (PROJECT_READ)");
    if (!res.ok()) return res.status();
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    const json::value* values = ec ? nullptr : Member(v, "values");
    if (!values || !values->is_array()) return Status::Corrupted("repositories of " + account + ": no 'values' list");
    for (const json::value& r : values->as_array()) {
      RemoteRepo repo;
      repo.name = Str(Member(r, "slug"));
      repo.full_name = account + "/" + repo.name;
      repo.archived = True(Member(r, "archived"));
      if (!repo.name.empty()) out.push_back(std::move(repo));
    }
    const json::value* last = Member(v, "isLastPage");
    const json::value* next = Member(v, "nextPageStart");
    if (!last || !last->is_bool() || last->as_bool() || !next || !next->is_number()) break;
    start = next->to_number<int64_t>();
  }
  return out;
}

}  // namespace gitsyncd
