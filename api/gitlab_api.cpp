#include "api/gitlab_api.h"
#include "api/remote_names.h"
#include "config/url_encode.h"

#include <boost/json.hpp>

#include <algorithm>

#include "api/api_answer.h"
#include "config/base64.h"
#include "config/text.h"
#include "config/url_encode.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers

// The role the token's user holds on the project: the higher of its project and group
// membership ("permissions" in https://docs.gitlab.com/ee/api/projects.html#get-a-single-project;
// for project and group access tokens, the role chosen when the token was made). 0 = not said.
int ProjectRole(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return 0;
  int level = 0;
  for (const char* kind : {"project_access", "group_access"}) {
    const json::value* l = Member(Member(Member(v, "permissions"), kind), "access_level");
    if (l && l->is_int64()) level = std::max(level, static_cast<int>(l->as_int64()));
  }
  return level;
}

// https://docs.gitlab.com/ee/api/members.html#roles
std::string RoleName(int level) {
  switch (level) {
    case 5: return "Minimal Access";
    case 10: return "Guest";
    case 15: return "Planner";
    case 20: return "Reporter";
    case 30: return "Developer";
    case 40: return "Maintainer";
    case 50: return "Owner";
    default: return "access level " + std::to_string(level);
  }
}

constexpr int kDeveloper = 30;  // the lowest role that may push to an unprotected branch

// What a write needs: the commits and branches APIs take only the full 'api' scope
// (write_repository is for Git over HTTPS), and a role that may push.
constexpr const char* kWriteRight = "the 'api' scope and the Developer role or higher";

}  // namespace

GitLabApi::GitLabApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  target_.api_base = WithoutTrailingSlashes(target_.api_base);
  if (target_.api_base.empty()) target_.api_base = std::string(DefaultApiBase(Provider::kGitLab));
  project_ = UrlEncodeComponent(target_.repo);
}

Result<HttpsResponse> GitLabApi::Call(const std::string& path, const std::string& what, const std::string& download_to,
                                      uint64_t max) {
  HeaderList headers{{"PRIVATE-TOKEN", target_.token}, {"Accept", "application/json"}};
  auto res = ApiGet(client_, target_, target_.api_base + path, headers, download_to, max);
  return api_answer::Checked(std::move(res), what, target_.api_base, target_.repo);
}

Result<ApiAccess> GitLabApi::CheckAccess() {
  auto project = Call("/projects/" + project_, "project " + target_.repo);
  if (!project.ok()) return project.status();
  auto access = CheckScopes(target_.repo);
  if (!access.ok()) return access;
  int role = ProjectRole(project->body);
  if (role > 0 && role < kDeveloper) {
    access->can_write = false;
    access->write_needs = "the Developer role or higher on " + target_.repo + " (the token's role: " + RoleName(role) +
                          (access->scopes_reported ? "; scopes: " + access->scopes : "") + ")";
  }
  return access;
}

// Personal, project and group access tokens can read their own scopes (GitLab 15.5+); older
// servers and other token kinds do not report them.
Result<ApiAccess> GitLabApi::CheckScopes(const std::string& what) {
  ApiAccess access;
  auto self = Call("/personal_access_tokens/self", "token scopes");
  if (!self.ok()) return access;
  json::error_code ec;
  json::value v = json::parse(self->body, ec);
  const json::value* scopes = ec ? nullptr : Member(v, "scopes");
  if (!scopes || !scopes->is_array()) return access;
  access.scopes_reported = true;
  bool api = false, read_api = false, read_repository = false;
  for (const auto& s : scopes->as_array()) {
    std::string name = s.is_string() ? std::string(s.as_string()) : "";
    access.scopes += (access.scopes.empty() ? "" : ", ") + name;
    api = api || name == "api";
    read_api = read_api || name == "read_api";
    read_repository = read_repository || name == "read_repository";
  }
  if (!api && !read_api) {
    return Status::PermissionDenied("the API token lacks the 'read_api' scope needed to read " + what +
                                    " (it has: " + (access.scopes.empty() ? "no scopes" : access.scopes) + ")");
  }
  if (!api && !read_repository) {
    return Status::PermissionDenied("the API token lacks the 'read_repository' scope needed to read " + what +
                                    " (it has: " + access.scopes + ")");
  }
  // The commits API takes only the full 'api' scope (write_repository is for Git over HTTPS).
  access.can_write = api;
  access.write_needs = "the 'api' scope (it has: " + access.scopes + ")";
  return access;
}

Result<std::string> GitLabApi::BranchHead(const std::string& branch) {
  auto res = Call("/projects/" + project_ + "/repository/branches/" + UrlEncodeComponent(branch),
                  "branch " + branch + " of " + target_.repo);
  if (!res.ok()) return res.status();
  json::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec) return Status::Corrupted("branch " + branch + ": the API answered malformed JSON");
  const json::value* commit = Member(v, "commit");
  std::string id = commit ? Str(Member(*commit, "id")) : "";
  if (!IsObjectId(id)) return Status::Corrupted("branch " + branch + ": the API answer has no commit id");
  return id;
}

Result<std::vector<RemoteEntry>> GitLabApi::ListFolder(const std::string& commit, const std::string& path) {
  std::vector<RemoteEntry> out;
  std::string prefix = path.empty() ? "" : path + "/";
  std::string page = "1";
  for (int pages = 0; !page.empty(); ++pages) {
    if (pages > 10000) return Status::Corrupted("tree listing of " + target_.repo + " never ends (over 10000 pages)");
    std::string query = "?ref=" + commit + "&recursive=true&per_page=100&page=" + page +
                        (path.empty() ? "" : "&path=" + UrlEncodeComponent(path));
    auto res = Call("/projects/" + project_ + "/repository/tree" + query, "tree of " + (path.empty() ? "/" : path));
    if (!res.ok()) return res.status();
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    if (ec || !v.is_array()) return Status::Corrupted("tree of " + path + ": the API answer is not a JSON list");
    for (const json::value& e : v.as_array()) {
      std::string full = Str(Member(e, "path"));
      std::string type = Str(Member(e, "type"));
      std::string mode = Str(Member(e, "mode"));
      std::string id = Str(Member(e, "id"));
      if (Status s = CheckRemotePath(full); !s.ok()) return s;
      if (full.compare(0, prefix.size(), prefix) != 0) {
        return Status::Corrupted("tree of " + path + ": entry " + full + " is outside the folder");
      }
      std::string rel = full.substr(prefix.size());
      if (Status s = CheckRemotePath(rel); !s.ok()) return s;
      if (NamesDotGit(rel)) continue;
      if (type == "tree") continue;
      if (!IsObjectId(id)) return Status::Corrupted("tree of " + path + ": entry " + full + " has no valid 'id'");
      RemoteEntry r;
      r.path = rel;
      r.repo_path = full;
      r.commit = commit;
      r.blob_id = id;
      if (!SetKindFromGitMode(type, mode, &r)) {
        return Status::Corrupted("tree of " + path + ": entry " + full + " has unknown type '" + type + "'");
      }
      out.push_back(std::move(r));
    }
    page = res->Header("x-next-page");
  }
  return out;
}

// GET /projects/:id/repository/commits?ref_name=&path=&per_page=1 (commits.html#list-repository-commits).
Result<std::string> GitLabApi::LastCommitFor(const std::string& commit, const std::string& path) {
  std::string what = "last commit of " + path + " at " + commit;
  auto res = Call("/projects/" + project_ + "/repository/commits?ref_name=" + commit + "&path=" + UrlEncodeComponent(path) +
                      "&per_page=1",
                  what);
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, what);
  if (!v.ok()) return v.status();
  std::string id = v->is_array() && !v->as_array().empty() ? Str(Member(v->as_array()[0], "id")) : "";
  if (!IsObjectId(id)) return Status::Corrupted("GitLab: " + what + ": the answer names no commit");
  return id;
}

Result<std::string> GitLabApi::Commit(const CommitRequest& req) {
  HeaderList headers{{"PRIVATE-TOKEN", target_.token}, {"Accept", "application/json"},
                     {"Content-Type", "application/json"}};
  std::string base = target_.api_base + "/projects/" + project_ + "/repository";
  auto moved = [](int st, const std::string& body) {
    return st == 409 || (st == 400 && (body.find("has changed since you started editing it") != std::string::npos ||
                                       body.find("A file with this name already exists") != std::string::npos ||
                                       body.find("A file with this name doesn't exist") != std::string::npos));
  };
  if (req.changes.empty()) {
    auto res = api_answer::CheckedWrite(
        ApiSend(client_, target_, "POST",
                base + "/branches?branch=" + UrlEncodeComponent(req.branch) + "&ref=" + req.parent, headers, ""),
        "GitLab: create branch " + req.branch, target_.api_base, target_.repo, kWriteRight, nullptr);
    if (!res.ok()) return res.status();
    return req.parent;
  }
  json::array actions;
  for (const FileChange& c : req.changes) {
    json::object a{{"file_path", c.path}};
    if (c.kind == FileChange::Kind::kDelete) {
      a["action"] = "delete";
    } else {
      a["action"] = c.kind == FileChange::Kind::kAdd ? "create" : "update";
      a["content"] = Base64Encode(c.content);
      a["encoding"] = "base64";
    }
    // Refused if the file changed on the branch since the parent (ignored for "create",
    // which is refused if the file exists at all). The id is the last commit that touched the
    // file as of the parent: GitLab before 15.x compares it with the branch's last commit for
    // the path exactly; later versions compare the last commits for the path of both.
    if (!req.new_branch && c.kind != FileChange::Kind::kAdd) {
      auto last = LastCommitFor(req.parent, c.path);
      if (!last.ok()) return last.status();
      a["last_commit_id"] = *last;
    }
    actions.push_back(std::move(a));
    if (c.kind != FileChange::Kind::kDelete && c.executable != c.executable_before) {
      actions.push_back(json::object{{"action", "chmod"}, {"file_path", c.path}, {"execute_filemode", c.executable}});
    }
  }
  json::object body{{"branch", req.branch},
                    {"commit_message", req.message},
                    {"author_name", req.author_name},
                    {"author_email", req.author_email},
                    {"stats", false},
                    {"actions", std::move(actions)}};
  if (req.new_branch) body["start_sha"] = req.parent;
  std::string what = "GitLab: commit " + std::to_string(req.changes.size()) + " file(s) to " + req.branch;
  auto res = api_answer::CheckedWrite(ApiSend(client_, target_, "POST", base + "/commits", headers, json::serialize(body)),
                                      what, target_.api_base, target_.repo, kWriteRight, moved);
  if (!res.ok()) return res.status();
  auto v = api_answer::ParseJson(*res, what);
  if (!v.ok()) return v.status();
  std::string id = Str(Member(*v, "id"));
  const json::value* parents = Member(*v, "parent_ids");
  std::string parent = parents && parents->is_array() && !parents->as_array().empty() && parents->as_array()[0].is_string()
                           ? std::string(parents->as_array()[0].as_string())
                           : "";
  if (!IsObjectId(id)) return Status::Corrupted(what + ": the answer has no commit id");
  if (parent != req.parent) {
    return Status::Conflict(what + ": the branch had moved (the new commit " + id + " follows " + parent + ", not " +
                            req.parent + "); fetching and merging again");
  }
  return id;
}

Status GitLabApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call("/projects/" + project_ + "/repository/files/" + UrlEncodeComponent(entry.repo_path) +
                      "/raw?ref=" + entry.commit,
                  "file " + entry.path, file, 1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}


Result<std::vector<RemoteRepo>> GitLabApi::ListRepositories(const std::string& account) {
  if (auto scopes = CheckScopes("the projects of " + account); !scopes.ok()) return scopes.status();
  std::vector<RemoteRepo> out;
  std::string page = "1";
  for (int pages = 0; !page.empty(); ++pages) {
    if (pages > 10000) return Status::Corrupted("project list of " + account + " never ends");
    auto res = Call("/groups/" + UrlEncodeComponent(account) + "/projects?include_subgroups=true&per_page=100&page=" + page,
                    "projects of group " + account);
    // A group the token's user is no member of is 404: a project access token's bot user
    // belongs to its project only.
    if (!res.ok() && res.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(res.status().message() + " (the token sees no group " + account +
                              ": listing a group needs a group access token of it, or a personal access token "
                              "of a member)");
    }
    if (!res.ok()) return res.status();
    json::error_code ec;
    json::value v = json::parse(res->body, ec);
    if (ec || !v.is_array()) return Status::Corrupted("projects of " + account + ": the API answer is not a list");
    for (const json::value& p : v.as_array()) {
      RemoteRepo r;
      std::string full = Str(Member(p, "path_with_namespace"));
      // Subgroup projects keep their subgroup path under the group: "group/sub/name" -> "sub/name".
      r.name = full.rfind(account + "/", 0) == 0 ? full.substr(account.size() + 1) : Str(Member(p, "path"));
      r.full_name = full;
      r.default_branch = Str(Member(p, "default_branch"));
      r.archived = True(Member(p, "archived"));
      if (!r.name.empty()) out.push_back(std::move(r));
    }
    page = res->Header("x-next-page");
  }
  return out;
}

}  // namespace gitsyncd
