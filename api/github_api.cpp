#include "api/github_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>

#include "api/api_answer.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using api_answer::IsObjectId;
using api_answer::ParseJson;
using api_answer::Member;
using api_answer::Str;
using api_answer::True;



// Percent-encodes a path segment (branch names may hold '/', '#', '%', ...).
std::string Encode(const std::string& s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}


}  // namespace

GitHubApi::GitHubApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  while (!target_.api_base.empty() && target_.api_base.back() == '/') target_.api_base.pop_back();
  if (target_.api_base.empty()) target_.api_base = "https://api.github.com";
}

Result<HttpsResponse> GitHubApi::Call(const std::string& path, const std::string& what, bool raw,
                                      const std::string& download_to, uint64_t max) {
  HeaderList headers{{"Accept", raw ? "application/vnd.github.raw+json" : "application/vnd.github+json"},
                     {"Authorization", "Bearer " + target_.token},
                     {"X-GitHub-Api-Version", "2022-11-28"}};
  std::string url = target_.api_base + "/repos/" + Encode(target_.repo, true) + path;
  auto res = ApiGet(client_, target_, url, headers, download_to, max);
  return api_answer::Checked(std::move(res), what, target_.api_base, target_.repo);
}

// GET /repos/{owner}/{repo} (https://docs.github.com/en/rest/repos/repos#get-a-repository);
// classic tokens list their scopes in X-OAuth-Scopes.
Result<ApiAccess> GitHubApi::CheckAccess() {
  auto res = Call("", "repository " + target_.repo);
  if (!res.ok()) return res.status();
  ApiAccess access;
  if (auto it = res->headers.find("x-oauth-scopes"); it != res->headers.end()) {
    access.scopes_reported = true;
    access.scopes = it->second;
    bool can_read = false;
    size_t start = 0;
    while (start <= access.scopes.size()) {
      size_t comma = access.scopes.find(',', start);
      std::string scope = access.scopes.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!scope.empty() && scope.front() == ' ') scope.erase(0, 1);
      while (!scope.empty() && scope.back() == ' ') scope.pop_back();
      if (scope == "repo" || scope == "public_repo") can_read = true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    auto v = ParseJson(*res, "repository " + target_.repo);
    bool is_private = v.ok() && Member(*v, "private") && Member(*v, "private")->is_bool() &&
                      Member(*v, "private")->as_bool();
    if (!can_read || (is_private && access.scopes.find("repo") == std::string::npos)) {
      return Status::PermissionDenied("the API token lacks the 'repo' scope needed to read " + target_.repo +
                                      " (it has: " + (access.scopes.empty() ? "no scopes" : access.scopes) + ")");
    }
  }
  // An authenticated answer carries the token's permissions on the repository.
  if (auto v = ParseJson(*res, "repository " + target_.repo); v.ok()) {
    if (const json::value* push = Member(Member(*v, "permissions"), "push"); push && push->is_bool()) {
      access.can_write = push->as_bool();
      access.write_needs = "push access to " + target_.repo + " (classic token: the 'repo' scope; fine-grained: "
                           "Contents: read and write)";
    }
  }
  return access;
}

Result<std::string> GitHubApi::BranchHead(const std::string& branch) {
  auto res = Call("/git/ref/heads/" + Encode(branch, true), "branch " + branch + " of " + target_.repo);
  if (!res.ok()) return res.status();
  auto v = ParseJson(*res, "branch " + branch);
  if (!v.ok()) return v.status();
  const json::value* object = Member(*v, "object");
  std::string sha = object ? Str(Member(*object, "sha")) : "";
  // A ref lookup can answer a list (prefix matches) instead of one ref: not this branch.
  if (!IsObjectId(sha)) return Status::NotFound("branch " + branch + " of " + target_.repo + ": no such branch");
  return sha;
}

Status GitHubApi::ListTree(const std::string& tree_sha, const std::string& prefix, bool recursive,
                           std::vector<RemoteEntry>* out, int depth) {
  if (depth > 64) return Status::Corrupted("tree nesting deeper than 64 under " + prefix);
  auto res = Call("/git/trees/" + tree_sha + (recursive ? "?recursive=1" : ""), "tree " + tree_sha);
  if (!res.ok()) return res.status();
  auto v = ParseJson(*res, "tree " + tree_sha);
  if (!v.ok()) return v.status();
  const json::value* tree = Member(*v, "tree");
  if (!tree || !tree->is_array()) return Status::Corrupted("tree " + tree_sha + ": the API answer has no 'tree' list");
  bool truncated = Member(*v, "truncated") && Member(*v, "truncated")->is_bool() && Member(*v, "truncated")->as_bool();
  if (truncated && recursive) {
    // Too large for one answer: list this level and recurse into each subtree on its own.
    return ListTree(tree_sha, prefix, false, out, depth);
  }
  for (const json::value& e : tree->as_array()) {
    std::string path = Str(Member(e, "path"));
    std::string type = Str(Member(e, "type"));
    std::string mode = Str(Member(e, "mode"));
    std::string sha = Str(Member(e, "sha"));
    if (Status s = CheckRemotePath(path); !s.ok()) return s;
    if (!IsObjectId(sha)) return Status::Corrupted("tree " + tree_sha + ": entry " + path + " has no valid 'sha'");
    std::string full = prefix.empty() ? path : prefix + "/" + path;
    bool dot_git = full == ".git" || full.rfind(".git/", 0) == 0 || full.find("/.git/") != std::string::npos ||
                   (full.size() >= 5 && full.compare(full.size() - 5, 5, "/.git") == 0);
    if (dot_git) continue;
    if (type == "tree") {
      if (!recursive) {
        if (Status s = ListTree(sha, full, false, out, depth + 1); !s.ok()) return s;
      }
      continue;
    }
    RemoteEntry r;
    r.path = full;
    r.blob_id = sha;
    if (const json::value* size = Member(e, "size"); size && size->is_number()) r.size = size->to_number<uint64_t>();
    if (type == "commit" || mode == "160000") {
      r.kind = RemoteEntry::Kind::kSubmodule;
    } else if (mode == "120000") {
      r.kind = RemoteEntry::Kind::kSymlink;
    } else if (type == "blob") {
      r.executable = mode == "100755";
    } else {
      return Status::Corrupted("tree " + tree_sha + ": entry " + path + " has unknown type '" + type + "'");
    }
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

Result<std::vector<RemoteEntry>> GitHubApi::ListFolder(const std::string& commit, const std::string& path) {
  std::string sha;
  if (path.empty()) {
    // The trees endpoint resolves a commit id to its tree ("SHA1 value or ref name").
    sha = commit;
  } else {
    // The folder's tree id from its parent's listing. A nested folder's parent is read with
    // the contents API (GET /repos/{owner}/{repo}/contents/{parent}?ref=), which names just
    // that directory's entries; walking the trees from the root would list the root's
    // (possibly thousands of) entries on the way.
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    auto level = parent.empty() ? Call("/git/trees/" + commit, "tree of /")
                                : Call("/contents/" + Encode(parent, true) + "?ref=" + commit, "folder " + parent);
    if (!level.ok()) {
      if (level.status().code() == Status::Code::kNotFound) {
        return Status::NotFound("folder " + path + " does not exist at commit " + commit);
      }
      return level.status();
    }
    auto lv = ParseJson(*level, "folder " + parent);
    if (!lv.ok()) return lv.status();
    const json::value* entries = parent.empty() ? Member(*lv, "tree") : &*lv;
    if (entries && entries->is_array()) {
      for (const json::value& e : entries->as_array()) {
        std::string type = Str(Member(e, "type"));
        std::string entry_name = parent.empty() ? Str(Member(e, "path")) : Str(Member(e, "name"));
        if (entry_name == name && (type == "tree" || type == "dir")) sha = Str(Member(e, "sha"));
      }
    }
    if (!IsObjectId(sha)) return Status::NotFound("folder " + path + " does not exist at commit " + commit);
  }
  std::vector<RemoteEntry> out;
  if (Status s = ListTree(sha, "", true, &out, 0); !s.ok()) return s;
  return out;
}

Result<HttpsResponse> GitHubApi::Write(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& what,
                                       const std::function<bool(int, const std::string&)>& moved) {
  HeaderList headers{{"Accept", "application/vnd.github+json"},
                     {"Authorization", "Bearer " + target_.token},
                     {"X-GitHub-Api-Version", "2022-11-28"},
                     {"Content-Type", "application/json"}};
  std::string url = target_.api_base + "/repos/" + Encode(target_.repo, true) + path;
  return api_answer::CheckedWrite(ApiSend(client_, target_, method, url, headers, body), "GitHub: " + what,
                                  target_.api_base, target_.repo, "the 'repo' scope (classic) or Contents: write",
                                  moved);
}

Result<std::string> GitHubApi::Commit(const CommitRequest& req) {
  // Blobs first; GitHub names each by its Git id, which must be the one we computed.
  json::array entries;
  for (const FileChange& c : req.changes) {
    if (c.kind == FileChange::Kind::kDelete) {
      entries.push_back(json::object{{"path", c.path}, {"mode", "100644"}, {"type", "blob"}, {"sha", nullptr}});
      continue;
    }
    std::string what = "create blob for " + c.path;
    auto blob = Write("POST", "/git/blobs",
                      json::serialize(json::object{{"content", api_answer::Base64Encode(c.content)}, {"encoding", "base64"}}),
                      what);
    if (!blob.ok()) return blob.status();
    auto v = ParseJson(*blob, "GitHub: " + what);
    if (!v.ok()) return v.status();
    std::string sha = Str(Member(*v, "sha"));
    if (sha != c.blob_id) {
      return Status::Corrupted("GitHub: " + what + ": stored as blob '" + sha + "', expected " + c.blob_id);
    }
    entries.push_back(json::object{{"path", c.path}, {"mode", c.executable ? "100755" : "100644"}, {"type", "blob"},
                                   {"sha", sha}});
  }
  std::string head = req.parent;
  if (!entries.empty()) {
    auto parent = Call("/git/commits/" + req.parent, "commit " + req.parent);
    if (!parent.ok()) return Status(parent.status()).WithContext("GitHub: read the parent commit");
    auto pv = ParseJson(*parent, "GitHub: commit " + req.parent);
    if (!pv.ok()) return pv.status();
    std::string base_tree = Str(Member(Member(*pv, "tree"), "sha"));
    if (!IsObjectId(base_tree)) return Status::Corrupted("GitHub: commit " + req.parent + " has no tree sha");
    // The new tree is the parent's with just these paths replaced (nested paths allowed).
    auto tree = Write("POST", "/git/trees",
                      json::serialize(json::object{{"base_tree", base_tree}, {"tree", std::move(entries)}}),
                      "create tree on " + req.parent);
    if (!tree.ok()) return tree.status();
    auto tv = ParseJson(*tree, "GitHub: create tree");
    if (!tv.ok()) return tv.status();
    std::string tree_sha = Str(Member(*tv, "sha"));
    if (!IsObjectId(tree_sha)) return Status::Corrupted("GitHub: create tree: no sha in the answer");
    json::object commit{{"message", req.message},
                        {"tree", tree_sha},
                        {"parents", json::array{json::value(req.parent)}},
                        {"author", json::object{{"name", req.author_name}, {"email", req.author_email}}}};
    auto made = Write("POST", "/git/commits", json::serialize(commit), "create commit on " + req.parent);
    if (!made.ok()) return made.status();
    auto cv = ParseJson(*made, "GitHub: create commit");
    if (!cv.ok()) return cv.status();
    head = Str(Member(*cv, "sha"));
    if (!IsObjectId(head)) return Status::Corrupted("GitHub: create commit: no sha in the answer");
  }
  if (req.new_branch) {
    auto ref = Write("POST", "/git/refs",
                     json::serialize(json::object{{"ref", "refs/heads/" + req.branch}, {"sha", head}}),
                     "create branch " + req.branch);
    if (!ref.ok()) return ref.status();
    return head;
  }
  // Moves the branch only if the new commit descends from its head (no force): a branch that
  // moved since `parent` answers 422 "Update is not a fast forward".
  auto ref = Write("PATCH", "/git/refs/heads/" + Encode(req.branch, true),
                   json::serialize(json::object{{"sha", head}, {"force", false}}), "update branch " + req.branch,
                   [](int st, const std::string& body) {
                     return st == 422 && body.find("fast forward") != std::string::npos;
                   });
  if (!ref.ok()) return ref.status();
  return head;
}

Status GitHubApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call("/git/blobs/" + entry.blob_id, "file " + entry.path, /*raw=*/true, file, 1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}

}  // namespace gitsyncd

namespace gitsyncd {

Result<std::vector<RemoteRepo>> GitHubApi::ListRepositories(const std::string& account) {
  HeaderList headers{{"Accept", "application/vnd.github+json"},
                     {"Authorization", "Bearer " + target_.token},
                     {"X-GitHub-Api-Version", "2022-11-28"}};
  std::vector<RemoteRepo> out;
  for (const char* kind : {"/orgs/", "/users/"}) {
    std::string url = target_.api_base + kind + Encode(account, false) + "/repos?per_page=100&page=1";
    bool found = true;
    for (int pages = 0; !url.empty(); ++pages) {
      if (pages > 10000) return Status::Corrupted("repository list of " + account + " never ends");
      auto res = api_answer::Checked(ApiGet(client_, target_, url, headers), "repositories of " + account,
                                     target_.api_base, account, "the read:org scope");
      if (!res.ok()) {
        if (res.status().code() == Status::Code::kNotFound && pages == 0) {
          found = false;
          break;
        }
        return res.status();
      }
      if (pages == 0) {
        // Classic tokens list their scopes; an organization's private repos need repo + read:org.
        std::string scopes = res->Header("x-oauth-scopes");
        if (res->headers.count("x-oauth-scopes") && std::string(kind) == "/orgs/" &&
            (scopes.find("repo") == std::string::npos || scopes.find("read:org") == std::string::npos)) {
          return Status::PermissionDenied("the API token needs the 'repo' and 'read:org' scopes to list " + account +
                                          "'s repositories (it has: " + (scopes.empty() ? "no scopes" : scopes) + ")");
        }
      }
      auto v = ParseJson(*res, "repositories of " + account);
      if (!v.ok()) return v.status();
      if (!v->is_array()) return Status::Corrupted("repositories of " + account + ": the API answer is not a list");
      for (const json::value& r : v->as_array()) {
        RemoteRepo repo;
        repo.name = Str(Member(r, "name"));
        repo.full_name = Str(Member(r, "full_name"));
        repo.default_branch = Str(Member(r, "default_branch"));
        repo.archived = api_answer::True(Member(r, "archived"));
        if (const json::value* perms = Member(r, "permissions")) repo.can_read = api_answer::True(Member(*perms, "pull"));
        if (!repo.name.empty()) out.push_back(std::move(repo));
      }
      // Link: <https://...&page=2>; rel="next", <...>; rel="last"
      url.clear();
      std::string link = res->Header("link");
      for (size_t at = 0; (at = link.find('<', at)) != std::string::npos;) {
        size_t end = link.find('>', at);
        if (end == std::string::npos) break;
        size_t rel = link.find("rel=\"next\"", end);
        size_t comma = link.find(',', end);
        if (rel != std::string::npos && (comma == std::string::npos || rel < comma)) {
          url = link.substr(at + 1, end - at - 1);
          // The token goes along: follow only links into the same API.
          if (url.rfind(target_.api_base + "/", 0) != 0) {
            return Status::Corrupted("repositories of " + account + ": next page link leaves " + target_.api_base);
          }
          break;
        }
        at = end;
      }
    }
    if (found) return out;
  }
  return Status::NotFound("no organization or user named '" + account + "' at " + target_.api_base);
}

}  // namespace gitsyncd
