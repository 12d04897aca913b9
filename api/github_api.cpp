#include "api/github_api.h"

#include <boost/json.hpp>

#include "api/api_answer.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using api_answer::IsObjectId;
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

Result<json::value> ParseJson(const HttpsResponse& res, const std::string& what) {
  json::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (ec) return Status::Corrupted(what + ": the API answered malformed JSON (" + ec.message() + ")");
  return v;
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
