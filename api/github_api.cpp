#include "api/github_api.h"
#include "api/remote_names.h"

#include <boost/json.hpp>

#include <map>
#include <set>

#include "api/api_answer.h"
#include "config/base64.h"
#include "config/text.h"
#include "config/url_encode.h"
#include "api/comma_list.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;
using namespace api_answer;  // the readers of untrusted JSON answers





// The scopes of an X-OAuth-Scopes header ("repo, read:org"), with the ones each implies
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps:
// "repo" grants "public_repo"; "admin:org" grants "write:org", which grants "read:org").
std::set<std::string> Scopes(const std::string& header) {
  std::set<std::string> out;
  for (auto& scope : CommaList(header)) out.insert(std::move(scope));
  if (out.count("repo")) out.insert("public_repo");
  if (out.count("admin:org")) out.insert("write:org");
  if (out.count("write:org")) out.insert("read:org");
  return out;
}

// Whether `content` can travel as a JSON string unchanged: valid UTF-8 (no overlong forms,
// surrogates or code points past U+10FFFF) without NUL.
bool IsPlainText(const std::string& content) {
  size_t i = 0;
  while (i < content.size()) {
    auto c = static_cast<unsigned char>(content[i]);
    if (c == 0) return false;
    int n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
    if (n < 0 || i + static_cast<size_t>(n) >= content.size() + (n == 0 ? 1 : 0)) return false;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(content[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

}  // namespace

GitHubApi::GitHubApi(ApiTarget target) : target_(std::move(target)), client_(target_.http) {
  target_.api_base = WithoutTrailingSlashes(target_.api_base);
  if (target_.api_base.empty()) target_.api_base = std::string(DefaultApiBase(Provider::kGitHub));
}

HeaderList GitHubApi::Headers(bool raw) const {
  return {{"Accept", raw ? "application/vnd.github.raw+json" : "application/vnd.github+json"},
          {"Authorization", "Bearer " + target_.token},
          {"X-GitHub-Api-Version", "2022-11-28"}};
}

std::string GitHubApi::RepoUrl() const { return target_.api_base + "/repos/" + UrlEncodePath(target_.repo); }

Result<HttpsResponse> GitHubApi::Call(const std::string& path, const std::string& what, bool raw,
                                      const std::string& download_to, uint64_t max) {
  auto res = ApiGet(client_, target_, RepoUrl() + path, Headers(raw), download_to, max);
  return api_answer::Checked(std::move(res), what, target_.api_base, target_.repo);
}

// GET /repos/{owner}/{repo} (https://docs.github.com/en/rest/repos/repos#get-a-repository);
// classic tokens list their scopes in X-OAuth-Scopes.
Result<ApiAccess> GitHubApi::CheckAccess() {
  auto res = Call("", "repository " + target_.repo);
  if (!res.ok()) return res.status();
  ApiAccess access;
  // Classic tokens list their scopes; fine-grained tokens, GitHub App tokens and GITHUB_TOKEN
  // do not (their repository access shows in "permissions" below).
  if (auto it = res->headers.find("x-oauth-scopes"); it != res->headers.end()) {
    access.scopes_reported = true;
    access.scopes = it->second;
    auto v = ParseJson(*res, "repository " + target_.repo);
    bool is_private = v.ok() && True(Member(*v, "private"));
    // A public repository is readable with any token; a private one needs "repo".
    if (is_private && !Scopes(access.scopes).count("repo")) {
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
  auto res = Call("/git/ref/heads/" + UrlEncodePath(branch), "branch " + branch + " of " + target_.repo);
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
    if (NamesDotGit(full)) continue;
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
    if (!SetKindFromGitMode(type, mode, &r)) {
      return Status::Corrupted("tree " + tree_sha + ": entry " + path + " has unknown type '" + type + "'");
    }
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

Result<std::map<std::string, GitHubApi::TreeEntry>> GitHubApi::ReadLevel(const std::string& tree_sha,
                                                                        const std::string& what) {
  auto res = Call("/git/trees/" + tree_sha, what);
  if (!res.ok()) return res.status();
  auto v = ParseJson(*res, what);
  if (!v.ok()) return v.status();
  const json::value* tree = Member(*v, "tree");
  if (!tree || !tree->is_array()) return Status::Corrupted(what + ": the API answer has no 'tree' list");
  std::map<std::string, TreeEntry> out;
  for (const json::value& e : tree->as_array()) {
    out[Str(Member(e, "path"))] = TreeEntry{Str(Member(e, "type")), Str(Member(e, "sha"))};
  }
  return out;
}

// Walks from `root` (a commit or tree id) down `path` one tree at a time: unlike the contents
// API, which lists at most 1,000 entries of a directory
// (https://docs.github.com/en/rest/repos/contents#get-repository-content), a tree lists all of
// its entries (up to 100,000, https://docs.github.com/en/rest/git/trees#get-a-tree).
Result<std::string> GitHubApi::SubtreeSha(const std::string& root, const std::string& path) {
  std::string sha = root, walked;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string name = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    auto level = ReadLevel(sha, "tree of /" + walked);
    if (!level.ok()) {
      if (level.status().code() == Status::Code::kNotFound) return Status::NotFound("folder " + path + " does not exist");
      return level.status();
    }
    auto it = level->find(name);
    if (it == level->end() || it->second.type != "tree" || !IsObjectId(it->second.sha)) {
      return Status::NotFound("folder " + path + " does not exist");
    }
    sha = it->second.sha;
    walked += (walked.empty() ? "" : "/") + name;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return sha;
}

Result<std::vector<RemoteEntry>> GitHubApi::ListFolder(const std::string& commit, const std::string& path) {
  // The trees endpoint resolves a commit id to its tree ("SHA1 value or ref name").
  auto sha = SubtreeSha(commit, path);
  if (!sha.ok()) {
    if (sha.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("folder " + path + " does not exist at commit " + commit);
    }
    return sha.status();
  }
  std::vector<RemoteEntry> out;
  if (Status s = ListTree(*sha, "", true, &out, 0); !s.ok()) return s;
  return out;
}

Result<HttpsResponse> GitHubApi::Write(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string& what,
                                       const std::function<bool(int, const std::string&)>& moved) {
  HeaderList headers = Headers(false);
  headers.emplace_back("Content-Type", "application/json");
  return api_answer::CheckedWrite(ApiSend(client_, target_, method, RepoUrl() + path, headers, body), "GitHub: " + what,
                                  target_.api_base, target_.repo, "the 'repo' scope (classic) or Contents: write",
                                  moved);
}

// GitHub wrote the inline contents itself: each must have become exactly the blob we computed
// (a change of encoding or line ends would show here, before anything is committed). Reads
// the tree of each directory holding such a file, each once.
Status GitHubApi::CheckStoredBlobs(const std::string& tree, const std::map<std::string, std::string>& expected) {
  std::map<std::string, std::map<std::string, TreeEntry>> levels;  // directory -> its entries
  std::function<Result<const std::map<std::string, TreeEntry>*>(const std::string&)> level_of =
      [&](const std::string& dir) -> Result<const std::map<std::string, TreeEntry>*> {
    if (auto it = levels.find(dir); it != levels.end()) return &it->second;
    std::string sha = tree;
    if (!dir.empty()) {
      size_t slash = dir.rfind('/');
      auto parent = level_of(slash == std::string::npos ? "" : dir.substr(0, slash));
      if (!parent.ok()) return parent.status();
      auto it = (*parent)->find(slash == std::string::npos ? dir : dir.substr(slash + 1));
      if (it == (*parent)->end() || it->second.type != "tree") {
        return Status::Corrupted("GitHub: the new tree " + tree + " has no folder " + dir);
      }
      sha = it->second.sha;
    }
    auto level = ReadLevel(sha, "new tree of /" + dir);
    if (!level.ok()) return level.status();
    return &(levels[dir] = std::move(*level));
  };
  for (const auto& [path, id] : expected) {
    size_t slash = path.rfind('/');
    auto level = level_of(slash == std::string::npos ? "" : path.substr(0, slash));
    if (!level.ok()) return level.status();
    auto it = (*level)->find(slash == std::string::npos ? path : path.substr(slash + 1));
    std::string stored = it == (*level)->end() ? "(none)" : it->second.sha;
    if (stored != id) {
      return Status::Corrupted("GitHub: create tree: " + path + " was stored as blob " + stored + ", expected " + id +
                               "; nothing was committed");
    }
  }
  return Status::Ok();
}

// The tree entries of a commit, in requests of at most kTreeRequestMax bytes each.
struct GitHubApi::TreeBatches {
  static constexpr size_t kTreeRequestMax = 8u << 20;
  std::vector<json::array> batches = std::vector<json::array>(1);
  size_t batch_bytes = 0;
  std::map<std::string, std::string> inline_ids;  // path -> the blob id GitHub must have stored

  void Add(json::object entry, size_t bytes) {
    if (batch_bytes + bytes > kTreeRequestMax && !batches.back().empty()) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    batch_bytes += bytes + 200;
    batches.back().push_back(std::move(entry));
  }
};

Result<std::string> GitHubApi::CreateBlob(const FileChange& c) {
  // GitHub names each blob by its Git id, which must be the one we computed.
  std::string what = "create blob for " + c.path;
  auto blob = Write("POST", "/git/blobs",
                    json::serialize(json::object{{"content", Base64Encode(c.content)}, {"encoding", "base64"}}),
                    what);
  if (!blob.ok()) return blob.status();
  auto v = ParseJson(*blob, "GitHub: " + what);
  if (!v.ok()) return v.status();
  std::string sha = Str(Member(*v, "sha"));
  if (sha != c.blob_id) return Status::Corrupted("GitHub: " + what + ": stored as blob '" + sha + "', expected " + c.blob_id);
  return sha;
}

Result<std::string> GitHubApi::CommitTrees(const CommitRequest& req, TreeBatches& trees) {
  auto parent = Call("/git/commits/" + req.parent, "commit " + req.parent);
  if (!parent.ok()) return Status(parent.status()).WithContext("GitHub: read the parent commit");
  auto pv = ParseJson(*parent, "GitHub: commit " + req.parent);
  if (!pv.ok()) return pv.status();
  std::string tree_sha = Str(Member(Member(*pv, "tree"), "sha"));
  if (!IsObjectId(tree_sha)) return Status::Corrupted("GitHub: commit " + req.parent + " has no tree sha");
  // Each tree is the previous one with just these paths replaced (nested paths allowed).
  for (auto& batch : trees.batches) {
    auto tree = Write("POST", "/git/trees", json::serialize(json::object{{"base_tree", tree_sha}, {"tree", std::move(batch)}}),
                      "create tree on " + req.parent);
    if (!tree.ok()) return tree.status();
    auto tv = ParseJson(*tree, "GitHub: create tree");
    if (!tv.ok()) return tv.status();
    tree_sha = Str(Member(*tv, "sha"));
    if (!IsObjectId(tree_sha)) return Status::Corrupted("GitHub: create tree: no sha in the answer");
  }
  if (Status s = CheckStoredBlobs(tree_sha, trees.inline_ids); !s.ok()) return s;
  json::object commit{{"message", req.message},
                      {"tree", tree_sha},
                      {"parents", json::array{json::value(req.parent)}},
                      {"author", json::object{{"name", req.author_name}, {"email", req.author_email}}}};
  auto made = Write("POST", "/git/commits", json::serialize(commit), "create commit on " + req.parent);
  if (!made.ok()) return made.status();
  auto cv = ParseJson(*made, "GitHub: create commit");
  if (!cv.ok()) return cv.status();
  std::string head = Str(Member(*cv, "sha"));
  if (!IsObjectId(head)) return Status::Corrupted("GitHub: create commit: no sha in the answer");
  return head;
}

Result<std::string> GitHubApi::MoveBranch(const CommitRequest& req, const std::string& head) {
  if (req.new_branch) {
    auto ref = Write("POST", "/git/refs", json::serialize(json::object{{"ref", "refs/heads/" + req.branch}, {"sha", head}}),
                     "create branch " + req.branch);
    if (!ref.ok()) return ref.status();
    return head;
  }
  // Moves the branch only if the new commit descends from its head (no force): a branch that
  // moved since `parent` answers 422 "Update is not a fast forward".
  auto ref = Write("PATCH", "/git/refs/heads/" + UrlEncodePath(req.branch),
                   json::serialize(json::object{{"sha", head}, {"force", false}}), "update branch " + req.branch,
                   [](int st, const std::string& body) {
                     return st == 422 && body.find("fast forward") != std::string::npos;
                   });
  if (!ref.ok()) return ref.status();
  return head;
}

// Text files travel inside the tree requests ("content": GitHub writes the blob itself), so a
// commit of hundreds of text files costs a few content-creating requests instead of one per
// file (GitHub allows 80 a minute and 500 an hour); other files are created as blobs, paced.
Result<std::string> GitHubApi::Commit(const CommitRequest& req) {
  constexpr size_t kInlineFileMax = 1u << 20;
  TreeBatches trees;
  for (const FileChange& c : req.changes) {
    if (c.kind == FileChange::Kind::kDelete) {
      trees.Add(json::object{{"path", c.path}, {"mode", "100644"}, {"type", "blob"}, {"sha", nullptr}}, c.path.size());
      continue;
    }
    std::string mode = c.executable ? "100755" : "100644";
    if (c.content.size() <= kInlineFileMax && IsPlainText(c.content)) {
      trees.inline_ids[c.path] = c.blob_id;
      trees.Add(json::object{{"path", c.path}, {"mode", mode}, {"type", "blob"}, {"content", c.content}},
                c.path.size() + c.content.size() * 2);
      continue;
    }
    auto sha = CreateBlob(c);
    if (!sha.ok()) return sha.status();
    trees.Add(json::object{{"path", c.path}, {"mode", mode}, {"type", "blob"}, {"sha", *sha}}, c.path.size());
  }
  std::string head = req.parent;
  if (!req.changes.empty()) {
    auto made = CommitTrees(req, trees);
    if (!made.ok()) return made.status();
    head = *made;
  }
  return MoveBranch(req, head);
}

Status GitHubApi::Download(const RemoteEntry& entry, const std::string& file) {
  auto res = Call("/git/blobs/" + entry.blob_id, "file " + entry.path, /*raw=*/true, file, 1ull << 31);
  return res.ok() ? Status::Ok() : res.status();
}


Result<std::vector<RemoteRepo>> GitHubApi::ListRepositories(const std::string& account) {
  HeaderList headers{{"Accept", "application/vnd.github+json"},
                     {"Authorization", "Bearer " + target_.token},
                     {"X-GitHub-Api-Version", "2022-11-28"}};
  std::vector<RemoteRepo> out;
  for (const char* kind : {"/orgs/", "/users/"}) {
    std::string url = target_.api_base + kind + UrlEncodeComponent(account) + "/repos?per_page=100&page=1";
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
        // Classic tokens list their scopes: an organization's private repositories need "repo"
        // and read access to the organization ("read:org", or "write:org" / "admin:org", which
        // include it). Fine-grained tokens report none; their "Metadata: read" shows in what
        // the listing returns.
        if (res->headers.count("x-oauth-scopes") && std::string(kind) == "/orgs/") {
          std::string scopes = res->Header("x-oauth-scopes");
          auto have = Scopes(scopes);
          std::string missing = !have.count("repo") ? "'repo'" : "";
          if (!have.count("read:org")) missing += std::string(missing.empty() ? "" : " and ") + "'read:org'";
          if (!missing.empty()) {
            return Status::PermissionDenied("the API token needs the " + missing +
                                            (missing.find(" and ") == std::string::npos ? " scope" : " scopes") + " to list " + account +
                                            "'s repositories (it has: " + (scopes.empty() ? "no scopes" : scopes) +
                                            ")");
          }
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
