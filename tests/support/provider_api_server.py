#!/usr/bin/env python3
"""A test server that serves real local bare Git repositories through providers' REST APIs.

Bitbucket Cloud (under /bbc), REST 2.0: workspace listing, refs, src listings and files, diffstat,
  and writes (POST src, POST refs/branches); see bitbucket_cloud() for the endpoints and the docs
  followed. Auth: Bearer.

Every provider's write endpoints (see github_write, gitlab_write, azure_write,
bitbucket_server_write, bitbucket_cloud_write for the docs each follows) create real commits in the
bare repository with git plumbing, and refuse a write on a moved branch as the provider does (its
compare-and-swap), counted as "write_rejected" in /__stats.

Bitbucket Server / Data Center (under /bbs), REST 1.0, following
https://developer.atlassian.com/server/bitbucket/rest/ :
  - GET /rest/api/1.0/projects/{key}/repos/{slug} (repository); {key}/{slug} matches --repo key/slug case-insensitively
  - GET .../branches?filterText=&start=&limit= -> {"size", "limit", "isLastPage", "start", "nextPageStart"?,
      "values": [{"id": "refs/heads/x", "displayId", "type": "BRANCH", "latestCommit", "isDefault"}]}
  - GET .../browse/{path}?at=&start=&limit= -> {"path": {...}, "revision", "children": {"size", "limit", "isLastPage",
      "start", "nextPageStart"?, "values": [{"path": {"components", "name", "toString"}, "contentId", "type": FILE|DIRECTORY|SUBMODULE, "size"?}]}}
  - GET .../raw/{path}?at= -> raw bytes
  - Auth: Authorization: Bearer <HTTP access token>; 401 otherwise. Control {"per_page_max": N} caps "limit".

Azure Repos (under /azure/{org}/{project}), REST 7.1, following
https://learn.microsoft.com/en-us/rest/api/azure/devops/git/ :
  - GET .../_apis/git/repositories/{repo} (Repositories - Get)
  - GET .../_apis/git/repositories/{repo}/refs?filter=heads/{b} -> {"value": [{"name", "objectId"}], "count"} (Refs - List)
  - GET .../_apis/git/repositories/{repo}/items?scopePath=&recursionLevel=Full&versionDescriptor.version=
      -> {"count", "value": [{"objectId", "gitObjectType", "commitId", "path", "isFolder", "isSymLink"?, "url"}]} (Items - List)
  - GET .../_apis/git/repositories/{repo}/blobs/{id}?$format=octetstream -> raw bytes (Blobs - Get Blob)
  - Auth: basic, the PAT as password; 401 otherwise. {repo} matches the name part of a --repo owner/name.

GitLab (under /api/v4), following https://docs.gitlab.com/ee/api/ :
  - GET /projects/:id (projects.html#get-a-single-project), :id = URL-encoded "group/project"
  - GET /groups/:id/projects?include_subgroups=true&per_page=&page= (groups.html#list-a-groups-projects)
  - GET /personal_access_tokens/self -> {"scopes": [...]} (personal_access_tokens.html)
  - GET /projects/:id/repository/branches/:branch -> {"name", "commit": {"id", ...}} (branches.html)
  - GET /projects/:id/repository/tree?ref=&path=&recursive=&per_page=&page= -> [{"id", "name", "type", "path", "mode"}]
      with X-Page, X-Per-Page, X-Next-Page, X-Total, X-Total-Pages and Link (repositories.html, rest/index.html#pagination)
  - GET /projects/:id/repository/files/:file_path/raw?ref= -> raw bytes (repository_files.html)
  - Auth: PRIVATE-TOKEN header (or Authorization: Bearer); 401 {"message": "401 Unauthorized"}.
  Control {"per_page_max": N} caps the page size so listings span several pages.

GitHub follows its documented endpoints and JSON shapes (REST API version 2022-11-28):
  - Organization repositories: https://docs.github.com/en/rest/repos/repos#list-organization-repositories
      GET /orgs/{org}/repos?per_page=&page= -> [{"name", "full_name", "private", "archived", "default_branch",
      "permissions": {"admin", "push", "pull"}}], paginated with a Link header (rel="next"/"last").
      Control {"no_permission": ["org/name", ...]} lists repos the token may not pull;
      {"delay_ms": N} makes each listing page take N ms (to cancel imports mid-way).
  - Repositories: https://docs.github.com/en/rest/repos/repos#get-a-repository
      GET /repos/{owner}/{repo} -> {"full_name", "private", "default_branch", "permissions": {"admin", "maintain",
      "push", "triage", "pull"}, ...}; classic tokens get X-OAuth-Scopes
  - Repository contents (a directory): https://docs.github.com/en/rest/repos/contents#get-repository-content
      GET /repos/{owner}/{repo}/contents/{path}?ref= -> [{"type": file|dir|symlink|submodule, "name", "path", "sha", "size", ...}]
  - Git references: https://docs.github.com/en/rest/git/refs#get-a-reference
      GET /repos/{owner}/{repo}/git/ref/heads/{branch} -> {"ref", "node_id", "url", "object": {"sha", "type", "url"}}
  - Git commits: https://docs.github.com/en/rest/git/commits#get-a-commit-object
      GET /repos/{owner}/{repo}/git/commits/{sha} -> {"sha", "tree": {"sha", "url"}, "parents", "message", ...}
  - Git trees: https://docs.github.com/en/rest/git/trees#get-a-tree
      GET /repos/{owner}/{repo}/git/trees/{sha}[?recursive=1] -> {"sha", "url", "tree": [{"path", "mode", "type", "sha", "size"?, "url"}], "truncated"}
  - Git blobs: https://docs.github.com/en/rest/git/blobs#get-a-blob
      GET /repos/{owner}/{repo}/git/blobs/{sha}; Accept: application/vnd.github.raw+json -> the raw bytes
  - Auth: "Authorization: Bearer <token>" (or "token <token>"); 401 {"message": "Bad credentials"} otherwise.
  - Rate limits: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
      Every answer carries x-ratelimit-limit/-remaining/-used/-reset/-resource ("Checking the status of your
      rate limit"). Primary limit: 403 or 429 with x-ratelimit-remaining: 0 and x-ratelimit-reset. Secondary
      limits ("About secondary rate limits"): 403 or 429 {"message": "You have exceeded a secondary rate
      limit..."} with retry-after, or with no hint at all (then "wait for at least one minute"), while
      x-ratelimit-remaining is not 0. "No more than 80 content-generating requests per minute and no more than
      500 content-generating requests per hour": control {"content_limit": {"per_minute": N, "per_hour": M,
      "scale": S}} enforces it (windows scaled by S) on every POST/PATCH/PUT/DELETE, answering the secondary 403.
  - The contents API lists at most 1,000 entries of a directory ("If the requested {path} points to a directory
      ... this endpoint ... up to 1,000 files"; https://docs.github.com/en/rest/repos/contents#get-repository-content).
The Git data comes from the bare repository itself (one long-lived `git cat-file --batch-command`
per repository for reads, `git` plumbing for writes), so ids are real object ids.

Other providers' limits (control {"rate_limit": N}, each provider's documented answer):
  - GitLab: 429 with Retry-After and RateLimit-Limit/-Name/-Observed/-Remaining/-Reset/-ResetTime
      (https://docs.gitlab.com/ee/administration/settings/user_and_ip_rate_limits.html#response-headers).
  - Bitbucket Cloud and Server: 429 with no hint (https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/).
  - Azure DevOps: 429 with Retry-After and X-RateLimit-Resource/-Delay/-Limit/-Remaining/-Reset; control
      {"azure_delay": N} instead delays: the next N answers succeed but carry Retry-After: 1 and the X-RateLimit-*
      headers ("the client should wait"; https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits).
  - Azure DevOps rejects a bad PAT with 203 and an HTML sign-in page, not 401
      (https://learn.microsoft.com/en-us/azure/devops/integrate/how-to/call-rest-api: "203 ... the PAT is
      wrong"); an api-version newer than the server's ({"azure_max_version": "7.0"}, Azure DevOps Server 2022)
      is 400 VssVersionOutOfRangeException naming the server's latest
      (https://learn.microsoft.com/en-us/rest/api/azure/devops/#api-and-tfs-version-mapping).
  - Bitbucket Cloud answers src of an LFS-tracked file ({"lfs": [paths]}) with 301 to its storage host
      (here https://127.0.0.1:<port>/lfs-storage/..., another host than "localhost"), which refuses a request
      carrying Authorization with 400 (as S3 pre-signed URLs do: "Only one auth mechanism allowed").
      {"lfs_redirect": "http"} redirects to http:// instead; {"lfs_redirect": "loop"} redirects forever.
  - Bitbucket Server browse collapses a chain of single-child directories into one child with several path
      components ({"components": ["a", "b"], "toString": "a/b"}), as its UI and REST browse do.

Repository webhooks and commit statuses of every provider: see provider_admin.py.

Test controls (not GitHub's): POST /__control with a JSON object
  {"rate_limit": N}          the next N API requests get 429 + Retry-After: 1 (GitHub; others: see above)
  {"retry_after": S}         those 429s ask for S seconds instead (Retry-After and the reset headers)
  {"limit_path": "text"}     the limit and 5xx controls count only requests whose path contains the text
  {"retry_after_date": N}    the next N GitHub requests get 429 + Retry-After as an HTTP-date 2 s ahead
  {"secondary_limit": N}     the next N GitHub requests get the secondary-limit 403 with retry-after: 1
  {"secondary_limit_no_hint": N}  the same without retry-after (the client must wait at least a minute)
  {"rate_limit_403": N}      the next N get 403 + x-ratelimit-remaining: 0 + x-ratelimit-reset: now+1
  {"truncate": true}         recursive tree listings answer "truncated": true with only the top level
  {"inject": {...entry}}     add this entry to every tree listing (hostile paths, symlinks...)
  {"fail_5xx": N}            the next N API requests get 502
  {"move_branch_before_write": "main"}  before the next write to that branch, someone else commits on it
  {"max_depth_cap": N}       Bitbucket Cloud src listings go at most N levels deep
  {"read_only": ["o/r"]}     GitHub reports "permissions": {"push": false} for these repositories
  {"token": {...}}           the token is a project, group, repository or workspace access token:
     GitLab ("gitlab_role": 20, "gitlab_projects": ["g/p"] or "gitlab_group": "g"): a project or group access
       token's bot user, a member of that project (or group) only, with that role
       (https://docs.gitlab.com/ee/user/project/settings/project_access_tokens.html,
       .../group/settings/group_access_tokens.html). /projects/:id carries "permissions": {"project_access":
       {"access_level": role}, "group_access": null} (projects.html#get-a-single-project); other projects are
       404 "404 Project Not Found"; a project token lists no group (404 "404 Group Not Found"); writes under the
       Developer role (30) are 403 {"message": "403 Forbidden"}.
     Bitbucket Cloud ("bbc_kind": "repo_access_token", "bbc_scopes": "repository"): every answer carries
       x-oauth-scopes and x-credential-type (https://support.atlassian.com/bitbucket-cloud/kb/how-to-fetch-the-
       scope-of-a-token-via-command-line); a write without repository:write (or :admin) is 403 {"type": "error",
       "error": {"message": "Your credentials lack one or more required privilege scopes.", "detail":
       {"granted": [...], "required": ["repository:write"]}}}.
     Bitbucket Server ("bbs_permission": "REPO_READ"): an HTTP access token with only read permission; writes are
       401 {"errors": [{"context": null, "message": "You are not permitted to access this resource",
       "exceptionName": "com.atlassian.bitbucket.AuthorisationException"}]}, as Bitbucket answers a valid
       token that lacks a permission (https://confluence.atlassian.com/pages/viewpage.action?pageId=1416563314).
and GET /__stats -> {"requests": {...by kind...}, "blob_bytes": n, "bytes_sent": body bytes of all answers}.
"""
import argparse
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import provider_admin

LOCK = threading.RLock()
STATE = {"rate_limit": 0, "rate_limit_403": 0, "truncate": False, "inject": [], "fail_5xx": 0, "per_page_max": 100}
STATS = {"requests": {}, "blob_bytes": 0, "bytes_sent": 0}


def token_rules():
    """The {"token": {...}} control: what kind of token the client holds (see the module's doc)."""
    with LOCK:
        return dict(STATE.get("token") or {})


def gitlab_token_sees(project):
    token = token_rules()
    if "gitlab_projects" in token:
        return project in token["gitlab_projects"]
    if "gitlab_group" in token:
        return project.startswith(token["gitlab_group"] + "/")
    return True


def git(repo, *args, binary=False, input=None, env=None):
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    out = subprocess.run(["git", "--git-dir", repo, *args], capture_output=True, check=False, input=input,
                         env=full_env)
    if out.returncode != 0:
        return None
    return out.stdout if binary else out.stdout.decode()


class GitObjects:
    """Fast reads of one bare repository: one long-lived `git cat-file --batch-command` process
    (objects never change under their id, so tree listings are cached by id) and refs read from
    the files (a loose ref, else packed-refs), as fresh as the repository. Writes still use `git`
    commands; the process finds the objects they add (loose objects are looked up on disk)."""
    _all = {}
    _all_lock = threading.Lock()

    @classmethod
    def of(cls, repo):
        with cls._all_lock:
            if repo not in cls._all:
                cls._all[repo] = GitObjects(repo)
            return cls._all[repo]

    def __init__(self, repo):
        self.repo = repo
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(["git", "--git-dir", repo, "cat-file", "--batch-command"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.trees = {}  # tree id -> [(mode, type, id, name)]
        self.sizes = {}  # blob id -> size

    def _ask(self, command, name):
        """(id, type, size, content or None), or None when `name` names no object."""
        if "\n" in name:
            return None
        with self.lock:
            self.proc.stdin.write(("%s %s\n" % (command, name)).encode())
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().decode()
            parts = header.split()
            if len(parts) != 3 or parts[1] not in ("blob", "tree", "commit", "tag"):
                return None
            data = None
            if command == "contents":
                data = self.proc.stdout.read(int(parts[2]))
                self.proc.stdout.read(1)
            return parts[0], parts[1], int(parts[2]), data

    def ref(self, name):
        """The id `name` ("refs/heads/main") points at, or ""."""
        try:
            with open(os.path.join(self.repo, name)) as f:
                value = f.read().strip()
            return self.ref(value[5:]) if value.startswith("ref: ") else value
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self.packed_refs().get(name, "")

    def packed_refs(self):
        out = {}
        try:
            with open(os.path.join(self.repo, "packed-refs")) as f:
                for line in f:
                    if line[:1] not in ("#", "^") and " " in line:
                        sha, ref = line.strip().split(" ", 1)
                        out[ref] = sha
        except FileNotFoundError:
            pass
        return out

    def branches(self):
        """{"refs/heads/x": id} of every branch."""
        out = {k: v for k, v in self.packed_refs().items() if k.startswith("refs/heads/")}
        heads = os.path.join(self.repo, "refs", "heads")
        for root, _, files in os.walk(heads):
            for name in files:
                if name.endswith(".lock"):
                    continue
                ref = "refs/heads/" + os.path.relpath(os.path.join(root, name), heads).replace(os.sep, "/")
                sha = self.ref(ref)
                if sha:
                    out[ref] = sha
        return dict(sorted(out.items()))

    def resolve(self, rev):
        """A revision "x" or "x:path", with x a branch name or an object id, as something
        cat-file takes without looking at refs."""
        base, colon, path = rev.partition(":")
        if not re.match(r"^[0-9a-f]{40}$", base):
            base = self.ref(base if base.startswith("refs/") else "refs/heads/" + base) or base
        return base + colon + path

    def info(self, rev):
        return self._ask("info", self.resolve(rev))

    def contents(self, rev):
        got = self._ask("contents", self.resolve(rev))
        return got[3] if got else None

    def blob(self, rev):
        got = self._ask("contents", self.resolve(rev))
        return got[3] if got and got[1] == "blob" else None

    def size(self, sha):
        if sha not in self.sizes:
            got = self._ask("info", sha)
            self.sizes[sha] = got[2] if got else 0
        return self.sizes[sha]

    def tree_entries(self, tree):
        if tree not in self.trees:
            got = self._ask("contents", tree)
            if not got or got[1] != "tree":
                return None
            data, entries, i = got[3], [], 0
            while i < len(data):
                sp = data.index(b" ", i)
                nul = data.index(b"\0", sp)
                mode = data[i:sp].decode()
                mode = mode.rjust(6, "0")
                typ = "tree" if mode == "040000" else "commit" if mode == "160000" else "blob"
                entries.append((mode, typ, data[nul + 1:nul + 21].hex(), data[sp + 1:nul].decode("utf-8", "replace")))
                i = nul + 21
            self.trees[tree] = entries
        return self.trees[tree]

    def ls_tree(self, rev, recursive=False, trees=False, long=False):
        """What `git ls-tree [-r] [-t] [-l] <rev>` prints, or None when `rev` is no tree-ish."""
        got = self.info(rev)
        if not got:
            return None
        sha, typ = got[0], got[1]
        if typ == "commit":
            text = self.contents(sha).decode()
            sha = re.search(r"^tree ([0-9a-f]+)$", text, re.M).group(1)
        elif typ != "tree":
            return None
        lines = []

        def walk(tree, prefix):
            for mode, otype, oid, name in self.tree_entries(tree) or []:
                path = prefix + name
                if otype != "tree" or not recursive or trees:
                    size = (str(self.size(oid)) if otype == "blob" else "-").rjust(7)
                    meta = "%s %s %s" % (mode, otype, oid) + (" " + size if long else "")
                    lines.append(meta + "\t" + path)
                if otype == "tree" and recursive:
                    walk(oid, path + "/")

        walk(sha, "")
        return "".join(line + "\n" for line in lines)


def objects(repo):
    return GitObjects.of(repo)


def is_ancestor(repo, old, new):
    return subprocess.run(["git", "--git-dir", repo, "merge-base", "--is-ancestor", old, new],
                          capture_output=True).returncode == 0


def update_ref(repo, ref, new, old):
    """Compare-and-swap of a ref, as the providers do it: `old` "" = must not exist yet."""
    return git(repo, "update-ref", ref, new, old or "0" * 40) is not None


def write_tree(repo, base_tree, edits):
    """A tree: `base_tree` (or empty) with `edits` [(path, mode, sha or None = delete)] applied.
    Returns (tree sha, None) or (None, the path that cannot be deleted)."""
    present = set((git(repo, "ls-tree", "-r", "--name-only", base_tree) or "").splitlines()) if base_tree else set()
    lines = []
    for path, mode, sha in edits:
        if sha is None:
            if path not in present:
                return None, path
            present.discard(path)
            lines.append("0 %s\t%s\n" % ("0" * 40, path))
        else:
            present.add(path)
            lines.append("%s %s\t%s\n" % (mode, sha, path))
    with tempfile.TemporaryDirectory() as d:
        env = {"GIT_INDEX_FILE": os.path.join(d, "index")}
        git(repo, "read-tree", *([base_tree] if base_tree else ["--empty"]), env=env)
        git(repo, "update-index", "--index-info", input="".join(lines).encode(), env=env)
        return (git(repo, "write-tree", env=env) or "").strip(), None


def commit_tree(repo, tree, parents, message, author_name, author_email, committer=None):
    env = {"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
           "GIT_COMMITTER_NAME": (committer or (author_name, author_email))[0],
           "GIT_COMMITTER_EMAIL": (committer or (author_name, author_email))[1]}
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    out = git(repo, *args, "-F", "-", input=message.encode(), env=env)
    return out.strip() if out else None


def file_at(repo, rev, path):
    """(blob sha, mode) of `path` at `rev`, or (None, None)."""
    out = git(repo, "ls-tree", rev, "--", path)
    if not out:
        return None, None
    meta = out.split("\t", 1)[0].split()
    return meta[2], meta[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    repos = {}
    token = ""
    scopes = None

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, content_type="application/json; charset=utf-8", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        headers = dict(headers or {})
        if self.path.startswith("/api/v3/"):
            for k, v in (("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "4999"), ("x-ratelimit-used", "1"),
                         ("x-ratelimit-reset", str(int(time.time()) + 3600)), ("x-ratelimit-resource", "core")):
                if k not in {h.lower() for h in headers}:
                    headers[k] = v
        token = token_rules()
        if self.path.startswith("/bbc/") and "bbc_scopes" in token:
            headers["x-oauth-scopes"] = token["bbc_scopes"]
            headers["x-credential-type"] = token.get("bbc_kind", "repo_access_token")
        if self.path.startswith("/azure/") and 200 <= status < 300:
            with LOCK:
                delayed = STATE.get("azure_delay", 0) > 0
                if delayed:
                    STATE["azure_delay"] -= 1
            if delayed:
                self.count("azure_delayed")
                headers.update({"Retry-After": "1", "X-RateLimit-Resource": "ATCPU", "X-RateLimit-Delay": "0.5",
                                "X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "20",
                                "X-RateLimit-Reset": str(int(time.time()) + 300)})
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        with LOCK:
            STATS["bytes_sent"] += len(data)

    def count(self, kind):
        with LOCK:
            STATS["requests"][kind] = STATS["requests"].get(kind, 0) + 1

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.body = self.rfile.read(length) if length else b""
        if self.path == "/__control" and self.command == "POST":
            with LOCK:
                for k, v in json.loads(self.body or b"{}").items():
                    if k == "inject":
                        STATE["inject"].append(v)
                    else:
                        STATE[k] = v
            return self.send(200, {"ok": True})
        if self.path == "/__stats":
            with LOCK:
                return self.send(200, STATS)
        if self.path == "/__admin":
            return self.send(200, provider_admin.dump())
        self.route()

    def json_body(self):
        try:
            v = json.loads(self.body or b"null")
        except ValueError:
            return None
        return v

    def route(self):
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/lfs-storage/"):
            return self.lfs_storage()
        provider = ("bitbucket_cloud" if self.path.startswith("/bbc/") else
                    "bitbucket_server" if self.path.startswith("/bbs/") else
                    "azure" if self.path.startswith("/azure/") else
                    "gitlab" if self.path.startswith("/api/v4/") else "github")
        if provider == "bitbucket_cloud" and auth != "Bearer " + self.token:
            self.count("unauthorized")
            return self.send(401, {"type": "error", "error": {"message": "Access token expired."}})
        if provider == "bitbucket_server" and auth != "Bearer " + self.token:
            self.count("unauthorized")
            return self.send(401, {"errors": [{"message": "Authentication failed. Please check your credentials."}]})
        if provider == "azure":
            import base64 as b64
            if auth != "Basic " + b64.b64encode((":" + self.token).encode()).decode():
                self.count("unauthorized")
                return self.send(203, b"<html><head><title>Azure DevOps Services | Sign In</title></head></html>",
                                 content_type="text/html; charset=utf-8")
        if provider == "gitlab" and self.headers.get("PRIVATE-TOKEN", "") != self.token and auth != "Bearer " + self.token:
            self.count("unauthorized")
            return self.send(401, {"message": "401 Unauthorized"})
        if provider == "github" and auth not in ("Bearer " + self.token, "token " + self.token):
            self.count("unauthorized")
            return self.send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        limited = self.limit_answer(provider)
        if limited:
            return limited
        # Webhooks and commit statuses: see provider_admin.py.
        if provider_admin.route(self, provider, token_rules, lambda: STATE.get("deliveries", {})):
            return None
        if provider == "bitbucket_cloud":
            return self.bitbucket_cloud()
        if provider == "bitbucket_server":
            return self.bitbucket_server()
        if provider == "azure":
            return self.azure()
        if provider == "gitlab":
            return self.gitlab()
        if self.command != "GET":
            return self.github_write()
        o = re.match(r"^/api/v3/(orgs|users)/([^/?]+)/repos(\?.*)?$", self.path)
        if o:
            # https://docs.github.com/en/rest/repos/repos#list-organization-repositories
            self.count("list_repos")
            with LOCK:
                delay = STATE.get("delay_ms", 0)
            time.sleep(delay / 1000.0)
            owner = o.group(2)
            names = sorted(k for k in self.repos if k.split("/")[0] == owner)
            if not names or o.group(1) == "users":
                return self.send(404, {"message": "Not Found"})
            q = dict(urllib.parse.parse_qsl((o.group(3) or "?")[1:]))
            with LOCK:
                per_page = min(int(q.get("per_page", "30")), STATE["per_page_max"])
                denied = set(STATE.get("no_permission", []))
            page = int(q.get("page", "1"))
            chunk = names[(page - 1) * per_page: page * per_page]
            pages = max(1, (len(names) + per_page - 1) // per_page)
            items = [{"id": i, "name": k.split("/")[1], "full_name": k, "private": True, "archived": False,
                      "default_branch": "main", "permissions": {"admin": False, "push": k not in denied,
                                                                "pull": k not in denied}} for i, k in enumerate(chunk)]
            base = "https://%s/api/v3/orgs/%s/repos?per_page=%d" % (self.headers.get("Host"), owner, per_page)
            links = []
            if page < pages:
                links.append('<%s&page=%d>; rel="next"' % (base, page + 1))
            links.append('<%s&page=%d>; rel="last"' % (base, pages))
            headers = {"Link": ", ".join(links)}
            if self.scopes is not None:
                headers["X-OAuth-Scopes"] = self.scopes
            return self.send(200, items, headers=headers)
        r = re.match(r"^/api/v3/repos/([^/]+/[^/]+)$", self.path)
        if r and r.group(1) in self.repos:
            # https://docs.github.com/en/rest/repos/repos#get-a-repository (a subset of the fields)
            self.count("repo")
            owner, name = r.group(1).split("/")
            extra = {"X-OAuth-Scopes": self.scopes} if self.scopes is not None else {}
            with LOCK:
                read_only = r.group(1) in STATE.get("read_only", [])
            return self.send(200, {"id": 1, "name": name, "full_name": r.group(1), "private": True,
                                   "owner": {"login": owner}, "default_branch": "main",
                                   "permissions": {"admin": False, "maintain": False, "push": not read_only,
                                                   "triage": True, "pull": True}}, headers=extra)
        c = re.match(r"^/api/v3/repos/([^/]+/[^/]+)/contents/([^?]*)(\?.*)?$", self.path)
        if c and c.group(1) in self.repos:
            # https://docs.github.com/en/rest/repos/contents#get-repository-content (a directory)
            self.count("contents")
            repo = self.repos[c.group(1)]
            q = dict(urllib.parse.parse_qsl((c.group(3) or "?")[1:]))
            sub = urllib.parse.unquote(c.group(2)).strip("/")
            listing = objects(repo).ls_tree(q.get("ref", "main") + (":" + sub if sub else ""), long=True)
            if listing is None:
                return self.send(404, {"message": "Not Found"})
            base = "https://%s/api/v3/repos/%s" % (self.headers.get("Host"), c.group(1))
            kinds = {"blob": "file", "tree": "dir", "commit": "submodule"}
            out = []
            for line in listing.splitlines():
                meta, name = line.split("\t", 1)
                mode, typ, sha, size = meta.split()
                p = (sub + "/" + name) if sub else name
                kind = "symlink" if mode == "120000" else kinds[typ]
                out.append({"type": kind, "size": int(size) if size != "-" else 0, "name": name, "path": p, "sha": sha,
                            "url": base + "/contents/" + p, "git_url": base + "/git/" + typ + "s/" + sha,
                            "html_url": None, "download_url": None,
                            "_links": {"self": base + "/contents/" + p, "git": base + "/git/" + typ + "s/" + sha}})
            return self.send(200, out[:1000])
        m = re.match(r"^/api/v3/repos/([^/]+/[^/]+)/git/(ref/heads|commits|trees|blobs)/([^?]+)(\?.*)?$", self.path)
        if not m or m.group(1) not in self.repos:
            self.count("not_found")
            return self.send(404, {"message": "Not Found"})
        repo = self.repos[m.group(1)]
        kind, arg, query = m.group(2), m.group(3), m.group(4) or ""
        base = "https://%s/api/v3/repos/%s/git" % (self.headers.get("Host"), m.group(1))
        if kind == "ref/heads":
            self.count("ref")
            branch = re.sub(r"%([0-9A-Fa-f]{2})", lambda x: chr(int(x.group(1), 16)), arg)
            sha = objects(repo).ref("refs/heads/" + branch)
            if not sha:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, {"ref": "refs/heads/" + branch, "node_id": "x", "url": base + "/refs/heads/" + branch,
                                   "object": {"sha": sha.strip(), "type": "commit", "url": base + "/commits/" + sha.strip()}})
        if kind == "commits":
            self.count("commit")
            got = objects(repo).info(arg)
            text = objects(repo).contents(arg).decode() if got and got[1] == "commit" else None
            if text is None:
                return self.send(404, {"message": "Not Found"})
            tree = re.search(r"^tree ([0-9a-f]+)$", text, re.M).group(1)
            parents = re.findall(r"^parent ([0-9a-f]+)$", text, re.M)
            return self.send(200, {"sha": arg, "node_id": "x", "url": base + "/commits/" + arg,
                                   "tree": {"sha": tree, "url": base + "/trees/" + tree},
                                   "parents": [{"sha": p, "url": base + "/commits/" + p} for p in parents],
                                   "message": text.split("\n\n", 1)[-1]})
        if kind == "trees":
            recursive = "recursive=" in query
            self.count("tree_recursive" if recursive else "tree")
            with LOCK:
                truncate = STATE["truncate"] and recursive
                inject = list(STATE["inject"])
            deep = recursive and not truncate
            listing = objects(repo).ls_tree(arg, recursive=deep, trees=deep, long=True)
            if listing is None:
                return self.send(404, {"message": "Not Found"})
            entries = []
            for line in listing.splitlines():
                meta, path = line.split("\t", 1)
                mode, typ, sha, size = meta.split()
                e = {"path": path, "mode": mode, "type": typ, "sha": sha, "url": base + "/" + typ + "s/" + sha}
                if typ == "blob":
                    e["size"] = int(size)
                entries.append(e)
            entries.extend(inject)
            return self.send(200, {"sha": arg, "url": base + "/trees/" + arg, "tree": entries, "truncated": truncate})
        if kind == "blobs":
            self.count("blob")
            data = objects(repo).blob(arg)
            if data is None:
                return self.send(404, {"message": "Not Found"})
            with LOCK:
                STATS["blob_bytes"] += len(data)
            if "raw" in self.headers.get("Accept", ""):
                return self.send(200, data, content_type="application/vnd.github.raw+json")
            import base64
            return self.send(200, {"sha": arg, "size": len(data), "encoding": "base64",
                                   "content": base64.b64encode(data).decode()})
        return self.send(404, {"message": "Not Found"})


def github_write(self):
    """GitHub's Git Data API writes (https://docs.github.com/en/rest/git):
      POST  /repos/{o}/{r}/git/blobs   {"content", "encoding": "utf-8"|"base64"} -> 201 {"url", "sha"}
            (https://docs.github.com/en/rest/git/blobs#create-a-blob)
      POST  /repos/{o}/{r}/git/trees   {"base_tree", "tree": [{"path", "mode", "type", "sha"|null|"content"}]} -> 201 {"sha", "url",
            "tree", "truncated"}; deleting a path that does not exist is 422 (https://docs.github.com/en/rest/git/trees#create-a-tree)
      POST  /repos/{o}/{r}/git/commits {"message", "tree", "parents", "author": {"name", "email", "date"?}, "committer"?}
            -> 201 {"sha", "tree", "parents", "author", "committer", "message"}; the committer defaults to the author
            (https://docs.github.com/en/rest/git/commits#create-a-commit)
      PATCH /repos/{o}/{r}/git/refs/heads/{branch} {"sha", "force"} -> 200 {"ref", "object": {"sha"}}; without force a
            non-fast-forward is 422 "Update is not a fast forward" (https://docs.github.com/en/rest/git/refs#update-a-reference)
      POST  /repos/{o}/{r}/git/refs    {"ref", "sha"} -> 201; 422 "Reference already exists"
            (https://docs.github.com/en/rest/git/refs#create-a-reference)
    Control {"move_branch_before_write": "main"}: before the next ref update, someone else commits on that branch.
    """
    m = re.match(r"^/api/v3/repos/([^/]+/[^/]+)/git/(blobs|trees|commits|refs)(/heads/(.+))?$", self.path)
    if not m or m.group(1) not in self.repos:
        self.count("not_found")
        return self.send(404, {"message": "Not Found"})
    repo, kind, branch = self.repos[m.group(1)], m.group(2), m.group(4)
    base = "https://%s/api/v3/repos/%s/git" % (self.headers.get("Host"), m.group(1))
    body = self.json_body()
    if not isinstance(body, dict):
        return self.send(400, {"message": "Problems parsing JSON"})
    if kind == "blobs" and self.command == "POST":
        self.count("write_blob")
        import base64
        data = base64.b64decode(body.get("content", "")) if body.get("encoding") == "base64" else \
            body.get("content", "").encode()
        sha = git(repo, "hash-object", "-w", "--stdin", input=data).strip()
        return self.send(201, {"url": base + "/blobs/" + sha, "sha": sha})
    if kind == "trees" and self.command == "POST":
        self.count("write_tree")
        edits = []
        inline = []  # (index in edits, content)
        for e in body.get("tree", []):
            if e.get("type") != "blob" or e.get("mode") not in ("100644", "100755", "120000"):
                return self.send(422, {"message": "Invalid tree info"})
            if "content" in e:
                # "The content you want this file to have. GitHub will write this blob out and use that
                # SHA for this entry. Use either this, or tree.sha."
                if e.get("sha") is not None or not isinstance(e["content"], str):
                    return self.send(422, {"message": "Invalid tree info"})
                inline.append((len(edits), e["content"].encode()))
            edits.append((e["path"], e["mode"], e.get("sha")))
        if inline:  # one `git hash-object` for all of them
            with tempfile.TemporaryDirectory() as d:
                names = []
                for n, (_, data) in enumerate(inline):
                    names.append(os.path.join(d, str(n)))
                    with open(names[-1], "wb") as f:
                        f.write(data)
                ids = git(repo, "hash-object", "-w", "--stdin-paths", input="\n".join(names).encode()).split()
            for (i, _), blob in zip(inline, ids):
                edits[i] = (edits[i][0], edits[i][1], blob)
        tree, missing = write_tree(repo, body.get("base_tree"), edits)
        if missing:
            return self.send(422, {"message": "GitRPC::BadObjectState", "path": missing})
        return self.send(201, {"sha": tree, "url": base + "/trees/" + tree, "tree": [], "truncated": False})
    if kind == "commits" and self.command == "POST":
        self.count("write_commit")
        author = body.get("author") or {"name": "token user", "email": "token@example.com"}
        committer = body.get("committer") or author
        sha = commit_tree(repo, body.get("tree", ""), body.get("parents", []), body.get("message", ""),
                          author["name"], author["email"], (committer["name"], committer["email"]))
        if not sha:
            return self.send(422, {"message": "Tree SHA does not exist or parents are invalid"})
        return self.send(201, {"sha": sha, "url": base + "/commits/" + sha, "message": body.get("message", ""),
                               "tree": {"sha": body["tree"]}, "parents": [{"sha": p} for p in body.get("parents", [])],
                               "author": author, "committer": committer})
    if kind == "refs" and branch and self.command == "PATCH":
        self.count("write_ref")
        branch = unquote(branch)
        new = body.get("sha", "")
        ref = "refs/heads/" + branch
        current = branch_head_for_write(repo, branch)
        if not current:
            return self.send(422, {"message": "Reference does not exist"})
        if not body.get("force") and not is_ancestor(repo, current, new):
            self.count("write_rejected")
            return self.send(422, {"message": "Update is not a fast forward",
                                   "documentation_url": "https://docs.github.com/rest/git/refs#update-a-reference"})
        if not update_ref(repo, ref, new, current):
            self.count("write_rejected")
            return self.send(422, {"message": "Update is not a fast forward"})
        return self.send(200, {"ref": ref, "url": base + "/refs/heads/" + branch,
                               "object": {"sha": new, "type": "commit", "url": base + "/commits/" + new}})
    if kind == "refs" and not branch and self.command == "POST":
        self.count("write_ref")
        ref, sha = body.get("ref", ""), body.get("sha", "")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return self.send(422, {"message": "Reference name must start with 'refs/' and have at least two slashes."})
        if not update_ref(repo, ref, sha, ""):
            return self.send(422, {"message": "Reference already exists"})
        return self.send(201, {"ref": ref, "url": base + "/" + ref[5:], "object": {"sha": sha, "type": "commit"}})
    return self.send(404, {"message": "Not Found"})


Handler.github_write = github_write


def branch_head_for_write(repo, branch):
    """The branch's head as a write finds it ("" if none); first, if the test asked for it
    (control {"move_branch_before_write": branch}), someone else commits on it."""
    with LOCK:
        mover = STATE.pop("move_branch_before_write", None)
    if mover == branch:
        someone_else_commits(repo, branch)
    return (git(repo, "rev-parse", "--verify", "-q", "refs/heads/" + branch) or "").strip()


def first_text(fields, name):
    """The first value of multipart field `name` as text, or None."""
    return fields[name][0][0].decode() if name in fields else None


def someone_else_commits(repo, branch):
    """Another person's commit on `branch`: a new file outside any synced folder."""
    ref = "refs/heads/" + branch
    head = git(repo, "rev-parse", ref).strip()
    blob = git(repo, "hash-object", "-w", "--stdin", input=("moved at %f\n" % time.time()).encode()).strip()
    tree, _ = write_tree(repo, head + "^{tree}", [("elsewhere/moved-%d.txt" % int(time.time() * 1e6), "100644", blob)])
    commit = commit_tree(repo, tree, [head], "someone else\n", "Someone Else", "else@example.com")
    update_ref(repo, ref, commit, head)


def unquote(s):
    return urllib.parse.unquote(s)


def gitlab(self):
    url = urllib.parse.urlsplit(self.path)
    q = dict(urllib.parse.parse_qsl(url.query))
    path = url.path[len("/api/v4"):]
    if path == "/personal_access_tokens/self":
        self.count("token_self")
        if self.scopes is None:
            return self.send(404, {"message": "404 Not Found"})
        return self.send(200, {"id": 1, "name": "t", "active": True, "scopes": [x.strip() for x in self.scopes.split(",")]})
    g = re.match(r"^/groups/([^/]+)/projects$", path)
    if g:
        # https://docs.gitlab.com/ee/api/groups.html#list-a-groups-projects (include_subgroups)
        self.count("list_repos")
        group = unquote(g.group(1))
        token = token_rules()
        if "gitlab_projects" in token or ("gitlab_group" in token and group != token["gitlab_group"] and
                                          not group.startswith(token["gitlab_group"] + "/")):
            return self.send(404, {"message": "404 Group Not Found"})
        names = sorted(k for k in self.repos if k.startswith(group + "/") and
                       (q.get("include_subgroups") == "true" or k.count("/") == group.count("/") + 1))
        with LOCK:
            per_page = min(int(q.get("per_page", "20")), STATE["per_page_max"])
        page = int(q.get("page", "1"))
        chunk = names[(page - 1) * per_page: page * per_page]
        pages = max(1, (len(names) + per_page - 1) // per_page)
        items = [{"id": i, "path": k.split("/")[-1], "path_with_namespace": k, "default_branch": "main",
                  "archived": False} for i, k in enumerate(chunk)]
        return self.send(200, items, headers={"X-Page": str(page), "X-Total-Pages": str(pages),
                                              "X-Next-Page": str(page + 1) if page < pages else ""})
    m = re.match(r"^/projects/([^/]+)(/repository/(branches|tree|files|commits)(/(.*))?)?$", path)
    project = unquote(m.group(1)) if m else None
    if not m or project not in self.repos or not gitlab_token_sees(project):
        self.count("not_found")
        return self.send(404, {"message": "404 Project Not Found"})
    repo = self.repos[project]
    kind, rest = m.group(3), m.group(5)
    role = token_rules().get("gitlab_role")
    if self.command == "POST" and kind in ("commits", "branches") and not rest:
        if role is not None and role < 30:
            self.count("write_forbidden")
            return self.send(403, {"message": "403 Forbidden"})
        return self.gitlab_write(repo, kind, q)
    if kind == "commits" and not rest:
        # https://docs.gitlab.com/ee/api/commits.html#list-repository-commits (ref_name, path, per_page)
        self.count("commits")
        out = git(repo, "log", "--format=%H %P", "-n", str(min(int(q.get("per_page", "20")), 100)),
                  q.get("ref_name", "main"), "--", *([q["path"]] if q.get("path") else []))
        if out is None:
            return self.send(404, {"message": "404 Commit Not Found"})
        items = [{"id": line.split()[0], "short_id": line.split()[0][:8], "parent_ids": line.split()[1:]}
                 for line in out.splitlines() if line.strip()]
        return self.send(200, items)
    if kind is None:
        self.count("repo")
        answer = {"id": 7, "path_with_namespace": project, "default_branch": "main", "visibility": "private"}
        if role is not None:
            answer["permissions"] = {"project_access": {"access_level": role, "notification_level": 3},
                                     "group_access": None}
        return self.send(200, answer)
    if kind == "branches":
        self.count("ref")
        branch = unquote(rest or "")
        sha = objects(repo).ref("refs/heads/" + branch)
        if not sha:
            return self.send(404, {"message": "404 Branch Not Found"})
        return self.send(200, {"name": branch, "merged": False, "protected": False, "default": branch == "main",
                               "commit": {"id": sha.strip(), "short_id": sha.strip()[:8], "title": "x"}})
    if kind == "tree":
        self.count("tree")
        ref, sub = q.get("ref", "main"), q.get("path", "")
        recursive = q.get("recursive") == "true"
        with LOCK:
            cap = STATE["per_page_max"]
            inject = list(STATE["inject"])
        per_page = min(int(q.get("per_page", "20")), cap, 100)
        page = int(q.get("page", "1"))
        treeish = ref + (":" + sub if sub else "")
        listing = objects(repo).ls_tree(treeish, recursive=recursive, trees=recursive)
        if listing is None:
            return self.send(404, {"message": "404 Tree Not Found"})
        entries = []
        for line in listing.splitlines():
            meta, p = line.split("\t", 1)
            mode, typ, sha = meta.split()
            full = (sub + "/" + p) if sub else p
            entries.append({"id": sha, "name": full.rsplit("/", 1)[-1], "type": typ, "path": full, "mode": mode})
        entries.extend(inject)
        total_pages = max(1, (len(entries) + per_page - 1) // per_page)
        chunk = entries[(page - 1) * per_page: page * per_page]
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(entries)),
                   "X-Total-Pages": str(total_pages), "X-Next-Page": str(page + 1) if page < total_pages else ""}
        return self.send(200, chunk, headers=headers)
    if kind == "files":
        self.count("blob")
        if not rest or not rest.endswith("/raw"):
            return self.send(404, {"message": "404 File Not Found"})
        file_path = unquote(rest[: -len("/raw")])
        data = objects(repo).blob(q.get("ref", "main") + ":" + file_path)
        if data is None:
            return self.send(404, {"message": "404 File Not Found"})
        with LOCK:
            STATS["blob_bytes"] += len(data)
        return self.send(200, data, content_type="text/plain; charset=utf-8")
    return self.send(404, {"message": "404 Not Found"})


Handler.gitlab = gitlab


def last_commit_for_path(repo, rev, path):
    return (git(repo, "log", "-1", "--format=%H", rev, "--", path) or "").strip()


def gitlab_write(self, repo, kind, q):
    """GitLab writes:
      POST /projects/:id/repository/commits {"branch", "commit_message", "start_branch"?, "start_sha"?, "force"?,
           "author_name"?, "author_email"?, "actions": [{"action": create|delete|move|update|chmod, "file_path",
           "previous_path"?, "content"?, "encoding": text|base64, "last_commit_id"?, "execute_filemode"?}]}
           -> 201 {"id", "short_id", "title", "author_name", "author_email", "committer_name", "committer_email",
           "message", "parent_ids", ...}; validation failures are 400 {"message"}
           (https://docs.gitlab.com/ee/api/commits.html#create-a-commit-with-multiple-files-and-actions; the checks
           follow app/services/commits/create_service.rb and files/multi_service.rb: start_sha on an existing branch
           is refused, last_commit_id refuses an update/delete of a file changed on the branch since that commit:
           the last commits for the path from the branch and from last_commit_id differ; with control
           {"gitlab_strict_last_commit": true}, as older GitLab did, the branch's last commit for the path must
           be last_commit_id itself)
      POST /projects/:id/repository/branches?branch=&ref= -> 201 {"name", "commit": {"id"}}; 400 "Branch already
           exists" (https://docs.gitlab.com/ee/api/branches.html#create-repository-branch)
    The committer is the token's user ("GitLab Token User"), as on GitLab.
    """
    if kind == "branches":
        self.count("write_ref")
        name, ref = q.get("branch", ""), q.get("ref", "")
        sha = (git(repo, "rev-parse", "--verify", "-q", ref + "^{commit}") or "").strip()
        if not sha:
            return self.send(400, {"message": "Invalid reference name: " + ref})
        if not update_ref(repo, "refs/heads/" + name, sha, ""):
            return self.send(400, {"message": "Branch already exists"})
        return self.send(201, {"name": name, "merged": False, "protected": False, "commit": {"id": sha}})
    body = self.json_body()
    if not isinstance(body, dict):
        return self.send(400, {"message": "400 Bad request"})
    self.count("write_commit")
    branch = body.get("branch", "")
    ref = "refs/heads/" + branch
    head = (git(repo, "rev-parse", "--verify", "-q", ref) or "").strip()
    start_sha, start_branch = body.get("start_sha"), body.get("start_branch")
    if start_sha and start_branch:
        return self.send(400, {"message": "You can't pass both start_branch and start_sha"})
    different = bool(start_sha) or (start_branch is not None and start_branch != branch)
    if head and different and not body.get("force"):
        return self.send(400, {"message": "A branch called '%s' already exists. Switch to that branch in order to make "
                                          "changes" % branch})
    if not head and not different:
        return self.send(400, {"message": "You can only create or edit files when you are on a branch"})
    if head and not different:
        head = branch_head_for_write(repo, branch)
    start = start_sha or (head if not start_branch or start_branch == branch else
                          (git(repo, "rev-parse", "--verify", "-q", "refs/heads/" + start_branch) or "").strip())
    if not start:
        return self.send(400, {"message": "Cannot find start_sha '%s'" % start_sha})
    import base64
    edits = []
    modes = {}
    for a in body.get("actions", []):
        action, fp = a.get("action"), a.get("file_path", "")
        sha, mode = file_at(repo, start, fp)
        sha, mode = modes.get(fp, (sha, mode))
        if action in ("update", "move", "delete") and a.get("last_commit_id"):
            checked = a.get("previous_path") or fp
            now, then = last_commit_for_path(repo, start, checked), last_commit_for_path(repo, a["last_commit_id"], checked)
            with LOCK:
                strict = STATE.get("gitlab_strict_last_commit")
            if strict:  # GitLab before the change of Files::BaseService#file_has_changed?: an exact compare
                then = a["last_commit_id"]
            if now and then and now != then:
                self.count("write_rejected")
                return self.send(400, {"message": "The file has changed since you started editing it: " + checked})
        if action == "create" and sha:
            self.count("write_rejected")
            return self.send(400, {"message": "A file with this name already exists"})
        if action in ("update", "delete", "chmod") and not sha:
            self.count("write_rejected")
            return self.send(400, {"message": "A file with this name doesn't exist"})
        if action in ("create", "update"):
            content = a.get("content", "")
            data = base64.b64decode(content) if a.get("encoding") == "base64" else content.encode()
            blob = git(repo, "hash-object", "-w", "--stdin", input=data).strip()
            mode = mode if action == "update" else "100644"
            modes[fp] = (blob, mode)
            edits.append((fp, mode, blob))
        elif action == "delete":
            modes[fp] = (None, None)
            edits.append((fp, None, None))
        elif action == "chmod":
            mode = "100755" if a.get("execute_filemode") else "100644"
            modes[fp] = (sha, mode)
            edits.append((fp, mode, sha))
        else:
            return self.send(400, {"message": "Unknown action '%s'" % action})
    tree, missing = write_tree(repo, start + "^{tree}", edits)
    if missing:
        return self.send(400, {"message": "A file with this name doesn't exist"})
    author = (body.get("author_name") or "GitLab Token User", body.get("author_email") or "token-user@gitlab.example")
    message = body.get("commit_message", "")
    commit = commit_tree(repo, tree, [start], message, author[0], author[1],
                         ("GitLab Token User", "token-user@gitlab.example"))
    if not update_ref(repo, ref, commit, head if head and not body.get("force") else (head or "")):
        return self.send(409, {"message": "Could not update branch %s: it moved" % branch})
    return self.send(201, {"id": commit, "short_id": commit[:11], "title": message.split("\n", 1)[0],
                           "author_name": author[0], "author_email": author[1],
                           "committer_name": "GitLab Token User", "committer_email": "token-user@gitlab.example",
                           "message": message, "parent_ids": [start], "status": None,
                           "web_url": "https://gitlab.example/%s/-/commit/%s" % ("project", commit)})


Handler.gitlab_write = gitlab_write


def azure(self):
    url = urllib.parse.urlsplit(self.path)
    q = dict(urllib.parse.parse_qsl(url.query))
    refused = azure_version_refusal(q.get("api-version"))
    if refused:
        self.count("version_refused")
        return self.send(400, refused)
    la = re.match(r"^/azure/([^/]+)/([^/]+)/_apis/git/repositories$", url.path)
    if la:
        # Repositories - List
        self.count("list_repos")
        names = sorted(k.split("/")[-1] for k in self.repos)
        return self.send(200, {"count": len(names), "value": [
            {"id": "%08d" % i, "name": n, "defaultBranch": "refs/heads/main", "isDisabled": False}
            for i, n in enumerate(names)]})
    m = re.match(r"^/azure/([^/]+)/([^/]+)/_apis/git/repositories/([^/]+)(/(refs|items|blobs|pushes)(/([0-9a-f]+))?)?$",
                 url.path)
    name = unquote(m.group(3)) if m else None
    repo = next((p for k, p in self.repos.items() if k.split("/")[-1] == name), None)
    if not m or repo is None:
        self.count("not_found")
        return self.send(404, {"message": "TF401019: The Git repository does not exist"})
    kind = m.group(5)
    if self.command == "POST" and kind in ("refs", "pushes"):
        return self.azure_write(repo, kind)
    if kind is None:
        self.count("repo")
        project = m.group(2)
        return self.send(200, {"id": provider_admin.azure_repo_id(name), "name": name,
                               "defaultBranch": "refs/heads/main",
                               "project": {"id": provider_admin.azure_project_id(project), "name": project}})
    if kind == "refs":
        self.count("ref")
        prefix = "refs/" + q.get("filter", "")
        out = []
        for ref, sha in objects(repo).branches().items():
            if ref.startswith(prefix):
                out.append({"name": ref, "objectId": sha, "creator": {"displayName": "x"}})
        return self.send(200, {"value": out, "count": len(out)})
    if kind == "items":
        self.count("tree_recursive")
        scope = q.get("scopePath", "/").strip("/")
        version = q.get("versionDescriptor.version", "main")
        with LOCK:
            inject = list(STATE["inject"])
        listing = objects(repo).ls_tree(version + (":" + scope if scope else ""), recursive=True, trees=True)
        if listing is None:
            return self.send(404, {"message": "TF401174: The item could not be found"})
        items = [{"objectId": "0" * 40, "gitObjectType": "tree", "commitId": version, "path": "/" + scope, "isFolder": True}]
        for line in listing.splitlines():
            meta, p = line.split("\t", 1)
            mode, typ, sha = meta.split()
            item = {"objectId": sha, "gitObjectType": typ, "commitId": version,
                    "path": "/" + ((scope + "/" + p) if scope else p), "url": "x"}
            if typ == "tree":
                item["isFolder"] = True
            if mode == "120000":
                item["isSymLink"] = True
            items.append(item)
        items.extend(inject)
        return self.send(200, {"count": len(items), "value": items})
    if kind == "blobs":
        self.count("blob")
        data = objects(repo).blob(m.group(7) or "")
        if data is None:
            return self.send(404, {"message": "TF401174"})
        with LOCK:
            STATS["blob_bytes"] += len(data)
        return self.send(200, data, content_type="application/octet-stream")
    return self.send(404, {"message": "not found"})


Handler.azure = azure


def azure_version_refusal(asked):
    """The error Azure DevOps answers an api-version it does not serve (None when it serves it).
    Services serve up to 7.1; control {"azure_max_version": "7.0"} plays Azure DevOps Server 2022."""
    with LOCK:
        latest = STATE.get("azure_max_version", "7.1")
    def parse(v):
        return tuple(int(x) for x in v.split("."))
    if not asked:
        return {"$id": "1", "innerException": None, "message": "No api-version was supplied for the \"GET\" request. "
                "The version must be supplied either as part of the Accept header (e.g. \"application/json; "
                "api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\").",
                "typeName": "Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, "
                            "Microsoft.VisualStudio.Services.WebApi", "typeKey": "VssVersionNotSpecifiedException",
                "errorCode": 0, "eventId": 3000}
    if not re.match(r"^[0-9]+(\.[0-9]+)?$", asked) or parse(asked) > parse(latest):
        return {"$id": "1", "innerException": None,
                "message": "The requested REST API version of %s is out of range for this server. The latest REST API "
                           "version for this server is %s." % (asked, latest),
                "typeName": "Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, "
                            "Microsoft.VisualStudio.Services.WebApi", "typeKey": "VssVersionOutOfRangeException",
                "errorCode": 0, "eventId": 3000}
    return None

ZERO = "0" * 40


def azure_write(self, repo, kind):
    """Azure Repos writes (REST 7.1):
      POST .../_apis/git/repositories/{repo}/pushes (https://learn.microsoft.com/en-us/rest/api/azure/devops/git/pushes/create)
          {"refUpdates": [{"name", "oldObjectId"}], "commits": [{"comment", "author"?: {"name", "email"}, "parents"?,
          "changes": [{"changeType": add|edit|delete, "item": {"path"}, "newContent": {"content", "contentType":
          rawtext|base64encoded}}]}]} -> 201 {"commits": [{"commitId", "author", "committer", "comment"}], "refUpdates":
          [{"name", "oldObjectId", "newObjectId"}], "pushId", "date", "pushedBy"}. oldObjectId must be the branch's head
          (409 TF401028 otherwise); for a branch that does not exist it is the commit the new branch starts on
          ("Use the object id of the base branch when creating a branch", GitRefUpdate).
      POST .../_apis/git/repositories/{repo}/refs (https://learn.microsoft.com/en-us/rest/api/azure/devops/git/refs/update-refs)
          [{"name", "oldObjectId", "newObjectId"}] -> 200 {"value": [{"name", "oldObjectId", "newObjectId", "success",
          "updateStatus"}], "count"}; creating: oldObjectId all zeros.
    The committer (and the pusher) is the PAT's user ("Azure Token User").
    """
    body = self.json_body()
    if kind == "refs":
        self.count("write_ref")
        if not isinstance(body, list):
            return self.send(400, {"message": "The body of the request contains invalid Json."})
        results = []
        for u in body:
            ref, old, new = u.get("name", ""), u.get("oldObjectId", ZERO), u.get("newObjectId", ZERO)
            ok = update_ref(repo, ref, new, "" if old == ZERO else old)
            results.append({"name": ref, "oldObjectId": old, "newObjectId": new, "success": ok,
                            "updateStatus": "succeeded" if ok else "staleOldObjectId", "repositoryId": "0000"})
        return self.send(200, {"value": results, "count": len(results)})
    if not isinstance(body, dict) or len(body.get("refUpdates", [])) != 1 or len(body.get("commits", [])) != 1:
        return self.send(400, {"message": "TF400898: An Internal Error Occurred (this server takes one ref update "
                                          "and one commit)"})
    self.count("write_commit")
    update, commit = body["refUpdates"][0], body["commits"][0]
    ref, old = update.get("name", ""), update.get("oldObjectId", ZERO)
    branch = ref[len("refs/heads/"):]
    head = branch_head_for_write(repo, branch)
    stale = {"$id": "1", "innerException": None, "typeName": "Microsoft.TeamFoundation.Git.Server.GitReferenceStaleException",
             "typeKey": "GitReferenceStaleException", "errorCode": 0, "eventId": 3000,
             "message": "TF401028: The reference '%s' has already been updated by another client, so you cannot update "
                        "it. Please try again." % ref}
    if head and head != old:
        self.count("write_rejected")
        return self.send(409, stale)
    import base64
    edits = []
    for ch in commit.get("changes", []):
        path = ch.get("item", {}).get("path", "").lstrip("/")
        kind_ = ch.get("changeType")
        exists, mode = file_at(repo, old, path) if old != ZERO else (None, None)
        if kind_ == "delete":
            if not exists:
                return self.send(400, {"message": "TF401174: The item '/%s' could not be found." % path})
            edits.append((path, None, None))
            continue
        if kind_ == "add" and exists:
            return self.send(400, {"message": "TF402456: An item with the same path '/%s' already exists." % path})
        if kind_ == "edit" and not exists:
            return self.send(400, {"message": "TF401174: The item '/%s' could not be found." % path})
        content = ch.get("newContent", {})
        data = base64.b64decode(content.get("content", "")) if content.get("contentType") == "base64encoded" else \
            content.get("content", "").encode()
        blob = git(repo, "hash-object", "-w", "--stdin", input=data).strip()
        edits.append((path, mode or "100644", blob))
    tree, missing = write_tree(repo, (old + "^{tree}") if old != ZERO else None, edits)
    if missing:
        return self.send(400, {"message": "TF401174: The item '/%s' could not be found." % missing})
    author = commit.get("author") or {"name": "Azure Token User", "email": "token-user@azure.example"}
    sha = commit_tree(repo, tree, [old] if old != ZERO else [], commit.get("comment", ""), author.get("name"),
                      author.get("email"), ("Azure Token User", "token-user@azure.example"))
    if not update_ref(repo, ref, sha, head):
        self.count("write_rejected")
        return self.send(409, stale)
    return self.send(201, {"commits": [{"commitId": sha, "author": author, "comment": commit.get("comment", ""),
                                        "committer": {"name": "Azure Token User", "email": "token-user@azure.example"}}],
                           "refUpdates": [{"repositoryId": "0000", "name": ref, "oldObjectId": old, "newObjectId": sha}],
                           "pushId": 1, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "pushedBy": {"displayName": "Azure Token User"}})


Handler.azure_write = azure_write


def bitbucket_server(self):
    url = urllib.parse.urlsplit(self.path)
    q = dict(urllib.parse.parse_qsl(url.query))
    lp = re.match(r"^/bbs/rest/api/1\.0/projects/([^/]+)/repos$", url.path)
    if lp:
        # GET /rest/api/1.0/projects/{key}/repos (paged)
        self.count("list_repos")
        key = unquote(lp.group(1)).lower()
        names = sorted(k for k in self.repos if k.split("/")[0].lower() == key)
        with LOCK:
            limit = min(int(q.get("limit", "25")), STATE["per_page_max"])
        start = int(q.get("start", "0"))
        chunk = names[start:start + limit]
        out = {"size": len(chunk), "limit": limit, "isLastPage": start + limit >= len(names), "start": start,
               "values": [{"slug": k.split("/")[1], "name": k.split("/")[1], "scmId": "git", "archived": False,
                           "project": {"key": k.split("/")[0]}} for k in chunk]}
        if not out["isLastPage"]:
            out["nextPageStart"] = start + limit
        return self.send(200, out)
    m = re.match(r"^/bbs/rest/api/1\.0/projects/([^/]+)/repos/([^/]+)(/(branches|browse|raw)(/(.*))?)?$", url.path)
    key = (unquote(m.group(1)) + "/" + unquote(m.group(2))).lower() if m else None
    repo = next((p for k, p in self.repos.items() if k.lower() == key), None)
    if not m or repo is None:
        self.count("not_found")
        return self.send(404, {"errors": [{"message": "Repository does not exist."}]})
    kind, rest = m.group(4), unquote(m.group(6) or "").strip("/")
    if (self.command, kind) in (("PUT", "browse"), ("POST", "branches")):
        if token_rules().get("bbs_permission", "REPO_WRITE") not in ("REPO_WRITE", "REPO_ADMIN", "PROJECT_WRITE",
                                                                     "PROJECT_ADMIN"):
            self.count("write_forbidden")
            return self.send(401, {"errors": [{"context": None, "message": "You are not permitted to access this resource",
                                               "exceptionName": "com.atlassian.bitbucket.AuthorisationException"}]})
        return self.bitbucket_server_write(repo, kind, rest)
    with LOCK:
        cap = STATE["per_page_max"]
        inject = list(STATE["inject"])
    start, limit = int(q.get("start", "0")), min(int(q.get("limit", "25")), cap)

    def page(values):
        chunk = values[start:start + limit]
        out = {"size": len(chunk), "limit": limit, "isLastPage": start + limit >= len(values), "start": start,
               "values": chunk}
        if not out["isLastPage"]:
            out["nextPageStart"] = start + limit
        return out

    if kind is None:
        self.count("repo")
        return self.send(200, {"slug": unquote(m.group(2)), "name": unquote(m.group(2)), "scmId": "git",
                               "project": {"key": unquote(m.group(1))}})
    if kind == "branches":
        self.count("ref")
        values = []
        for ref, sha in objects(repo).branches().items():
            if q.get("filterText", "") in ref:
                values.append({"id": ref, "displayId": ref[len("refs/heads/"):], "type": "BRANCH",
                               "latestCommit": sha, "latestChangeset": sha, "isDefault": ref == "refs/heads/main"})
        return self.send(200, page(values))
    if kind == "browse":
        self.count("tree")
        at = q.get("at", "main")
        listing = objects(repo).ls_tree(at + (":" + rest if rest else ""), long=True)
        if listing is None:
            return self.send(404, {"errors": [{"message": "The path does not exist at revision " + at}]})
        types = {"blob": "FILE", "tree": "DIRECTORY", "commit": "SUBMODULE"}
        values = []
        for line in listing.splitlines():
            meta, name = line.split("\t", 1)
            mode, typ, sha, size = meta.split()
            components = [name]
            while typ == "tree":  # a directory whose only entry is a directory is shown as one child
                inner = objects(repo).ls_tree(sha, long=True).splitlines()
                if len(inner) != 1 or inner[0].split()[1] != "tree":
                    break
                imeta, iname = inner[0].split("\t", 1)
                components.append(iname)
                sha = imeta.split()[2]
            name = "/".join(components)
            v = {"path": {"components": components, "parent": "/".join(components[:-1]), "name": components[-1],
                          "toString": name}, "contentId": sha, "type": types[typ]}
            if typ == "blob":
                v["size"] = int(size)
            values.append(v)
        values.extend(inject)
        return self.send(200, {"path": {"toString": rest}, "revision": at, "children": page(values)})
    if kind == "raw":
        self.count("blob")
        data = objects(repo).blob(q.get("at", "main") + ":" + rest)
        if data is None:
            return self.send(404, {"errors": [{"message": "not found"}]})
        with LOCK:
            STATS["blob_bytes"] += len(data)
        return self.send(200, data, content_type="text/plain")
    return self.send(404, {"errors": [{"message": "not found"}]})


Handler.bitbucket_server = bitbucket_server


def multipart_fields(self):
    """{name: (value bytes, {disposition params})} of a multipart/form-data body (RFC 7578)."""
    ctype = self.headers.get("Content-Type", "")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.startswith("multipart/form-data") or not m:
        return None
    fields = {}
    for part in self.body.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        params = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                # name="..." and filename="..." (RFC 7578); Bitbucket's own x-attributes:"..." uses a colon
                # (api-group-source, "Create a commit by uploading a file"), and only that form counts.
                for k, sep, v in re.findall(r'([\w-]+)(=|:)"([^"]*)"', line):
                    if (k.lower() == "x-attributes") == (sep == ":"):
                        params[k.lower()] = urllib.parse.unquote(v)
        if "name" in params:
            fields.setdefault(params["name"], []).append((value, params))
    return fields


Handler.multipart_fields = multipart_fields

TOKEN_USER = {"name": "token-user", "emailAddress": "token-user@bitbucket.example", "displayName": "Bitbucket Token User",
              "id": 7, "slug": "token-user", "type": "NORMAL", "active": True}


def bitbucket_server_write(self, repo, kind, rest):
    """Bitbucket Server / Data Center writes (REST 1.0, https://developer.atlassian.com/server/bitbucket/rest/):
      PUT  .../browse/{path} multipart/form-data {content (file), message, branch, sourceCommitId?, sourceBranch?}
           (api-group-repository, "Edit file"): one commit; sourceCommitId is "the commit ID of the file before it was
           edited, used to identify if content has changed" (409 if the file changed on the branch since; a new file
           is sent without it, 409 if it exists). -> 200 the commit {"id", "displayId", "author", "committer",
           "authorTimestamp", "message", "parents": [{"id", "displayId"}]}. The author is the token's user.
           Multipart writes need "X-Atlassian-Token: no-check" (XSRF protection, 403 otherwise).
      POST .../branches {"name", "startPoint", "message"?} (api-group-repository, "Create branch") -> 200
           {"id": "refs/heads/x", "displayId", "type": "BRANCH", "latestCommit", "isDefault"}
    There is no REST endpoint that deletes a file.
    """
    if kind == "branches":
        self.count("write_ref")
        body = self.json_body() or {}
        name, start = body.get("name", ""), body.get("startPoint", "")
        sha = (git(repo, "rev-parse", "--verify", "-q", start + "^{commit}") or "").strip()
        if not sha:
            return self.send(400, {"errors": [{"message": "Start point '%s' does not exist." % start}]})
        if not update_ref(repo, "refs/heads/" + name, sha, ""):
            return self.send(409, {"errors": [{"message": "Branch '%s' already exists in repository." % name}]})
        return self.send(200, {"id": "refs/heads/" + name, "displayId": name, "type": "BRANCH", "latestCommit": sha,
                               "latestChangeset": sha, "isDefault": False})
    if self.headers.get("X-Atlassian-Token") != "no-check":
        return self.send(403, {"errors": [{"message": "XSRF check failed"}]})
    fields = self.multipart_fields()
    if fields is None or "content" not in fields or "branch" not in fields:
        return self.send(400, {"errors": [{"message": "content and branch are required"}]})
    self.count("write_commit")
    branch, source = first_text(fields, "branch"), first_text(fields, "sourceCommitId")
    ref = "refs/heads/" + branch
    head = branch_head_for_write(repo, branch)
    if not head:
        return self.send(404, {"errors": [{"message": "Branch '%s' does not exist." % branch}]})
    now_blob, mode = file_at(repo, head, rest)
    if source:
        then_blob, _ = file_at(repo, source, rest)
        if now_blob != then_blob:
            self.count("write_rejected")
            return self.send(409, {"errors": [{"context": None, "exceptionName":
                                               "com.atlassian.bitbucket.content.FileContentModificationException",
                                               "message": "The file '%s' has been modified since '%s'." % (rest, source)}]})
    elif now_blob:
        self.count("write_rejected")
        return self.send(409, {"errors": [{"message": "The file '%s' already exists on branch '%s'." % (rest, branch)}]})
    blob = git(repo, "hash-object", "-w", "--stdin", input=fields["content"][0][0]).strip()
    tree, _ = write_tree(repo, head + "^{tree}", [(rest, mode or "100644", blob)])
    message = first_text(fields, "message") or "Edited %s online with Bitbucket" % rest
    sha = commit_tree(repo, tree, [head], message, TOKEN_USER["displayName"], TOKEN_USER["emailAddress"])
    if not update_ref(repo, ref, sha, head):
        self.count("write_rejected")
        return self.send(409, {"errors": [{"message": "The branch '%s' was updated concurrently." % branch}]})
    return self.send(200, {"id": sha, "displayId": sha[:11], "author": TOKEN_USER, "committer": TOKEN_USER,
                           "authorTimestamp": int(time.time() * 1000), "message": message,
                           "parents": [{"id": head, "displayId": head[:11]}]})


Handler.bitbucket_server_write = bitbucket_server_write


def bitbucket_cloud(self):
    """Bitbucket Cloud REST 2.0 (https://developer.atlassian.com/cloud/bitbucket/rest/), under /bbc:
      GET  /2.0/repositories/{ws}?pagelen=&page= -> {"pagelen", "page", "size", "values": [{"slug", "full_name",
           "mainbranch": {"name"}}], "next"?}                                (api-group-repositories)
      GET  /2.0/repositories/{ws}/{repo}                                    (api-group-repositories)
      GET  /2.0/repositories/{ws}/{repo}/refs/branches/{name} -> {"type": "branch", "name", "target": {"type": "commit",
           "hash", ...}}; 404 {"type": "error", "error": {"message"}}        (api-group-refs)
      GET  /2.0/repositories/{ws}/{repo}/src/{commit}/{path}?max_depth=&pagelen=&page= on a directory ->
           {"pagelen", "page", "values": [{"type": commit_file|commit_directory, "path" (from the root), "commit":
           {"hash"}, "attributes": [executable|link|subrepository|binary|lfs], "size", "mimetype", "escaped_path"}],
           "next"?}, listing max_depth levels (default 1); on a file its raw bytes   (api-group-source)
      GET  /2.0/repositories/{ws}/{repo}/diffstat/{spec}?merge=&pagelen= with spec "{new}..{old}" -> {"values":
           [{"type": "diffstat", "status": added|removed|modified|renamed, "lines_added", "lines_removed", "old":
           {"path", "type", "escaped_path"}|null, "new": ...}], "next"?}; merge=false is a plain two-way diff, else
           the diff of {new} against its merge base with {old}              (api-group-commits)
      POST /2.0/repositories/{ws}/{repo}/src multipart/form-data: message, author, parents, branch, files (repeated,
           paths to delete), and a field per written file (its path, a leading slash allowed; Content-Disposition
           x-attributes "executable" or "link") -> 201, Location: .../commit/{hash}, empty body. With an existing
           branch and parents, the parent must be the branch's head (409 otherwise); a new branch is created on the
           parent                                                          (api-group-source, "Create a commit")
      POST /2.0/repositories/{ws}/{repo}/refs/branches {"name", "target": {"hash"}} -> 201 the branch (api-group-refs)
    Control {"max_depth_cap": N} lists at most N levels whatever max_depth asks.
    """
    url = urllib.parse.urlsplit(self.path)
    q = dict(urllib.parse.parse_qsl(url.query))
    host = "https://%s/bbc/2.0/repositories/" % self.headers.get("Host")
    not_found = {"type": "error", "error": {"message": "Resource not found"}}
    m = re.match(r"^/bbc/2\.0/repositories/([^/]+)$", url.path)
    if m:
        # https://developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/#api-repositories-workspace-get
        self.count("list_repos")
        ws = unquote(m.group(1))
        names = sorted(k for k in self.repos if k.split("/")[0] == ws)
        with LOCK:
            pagelen = min(int(q.get("pagelen", "10")), STATE["per_page_max"])
        page = int(q.get("page", "1"))
        chunk = names[(page - 1) * pagelen: page * pagelen]
        out = {"pagelen": pagelen, "page": page, "size": len(names),
               "values": [{"type": "repository", "slug": k.split("/")[1], "name": k.split("/")[1], "full_name": k,
                           "is_private": True, "mainbranch": {"type": "branch", "name": "main"}} for k in chunk]}
        if page * pagelen < len(names):
            out["next"] = host + "%s?pagelen=%d&page=%d" % (ws, pagelen, page + 1)
        return self.send(200, out)
    m = re.match(r"^/bbc/2\.0/repositories/([^/]+)/([^/]+)(/(refs/branches|src|diffstat)(/(.*))?)?$", url.path)
    full = (unquote(m.group(1)) + "/" + unquote(m.group(2))) if m else None
    if not m or full not in self.repos:
        self.count("not_found")
        return self.send(404, not_found)
    repo, kind, rest = self.repos[full], m.group(4), m.group(6)
    base = host + full
    if kind is None:
        self.count("repo")
        return self.send(200, {"type": "repository", "full_name": full, "slug": full.split("/")[1], "is_private": True,
                               "mainbranch": {"type": "branch", "name": "main"}})
    if self.command == "POST":
        granted = [x.strip() for x in token_rules().get("bbc_scopes", "repository:write").split(",") if x.strip()]
        if not {"repository:write", "repository:admin"} & set(granted):
            self.count("write_forbidden")
            return self.send(403, {"type": "error", "error": {
                "message": "Your credentials lack one or more required privilege scopes.",
                "detail": {"granted": granted, "required": ["repository:write"]}}})
        return self.bitbucket_cloud_write(repo, kind, rest, base)
    with LOCK:
        cap = STATE["per_page_max"]
        inject = list(STATE["inject"])
        depth_cap = STATE.get("max_depth_cap")
    pagelen = min(int(q.get("pagelen", "10")), cap)
    page = int(q.get("page", "1"))

    def paged(values, link):
        out = {"pagelen": pagelen, "page": page, "values": values[(page - 1) * pagelen: page * pagelen]}
        if page * pagelen < len(values):
            query = dict(q)
            query["page"] = str(page + 1)
            out["next"] = link + "?" + urllib.parse.urlencode(query)
        return out

    if kind == "refs/branches":
        self.count("ref")
        name = unquote(rest or "")
        sha = objects(repo).ref("refs/heads/" + name)
        if not sha:
            return self.send(404, {"type": "error", "error": {"message": "Branch \"%s\" not found" % name}})
        return self.send(200, {"type": "branch", "name": name,
                               "target": {"type": "commit", "hash": sha, "links": {"self": {"href": base + "/commit/" + sha}}}})
    if kind == "src":
        commit, _, path = (rest or "").partition("/")
        path = unquote(path).strip("/")
        got = objects(repo).info(commit + ":" + path) if path else None
        typ = got[1] if got else ("tree" if not path else "")
        with LOCK:
            lfs = path in STATE.get("lfs", [])
            lfs_redirect = STATE.get("lfs_redirect", "storage")
        if typ == "blob" and lfs:
            # An LFS-tracked file: 301 to the storage (another host), never the bytes here.
            self.count("lfs_redirect")
            port = self.server.server_address[1]
            sha = objects(repo).info(commit + ":" + path)[0]
            target = {"storage": "https://127.0.0.1:%d/lfs-storage/%s?repo=%s&X-Amz-Signature=x" % (port, sha, full),
                      "http": "http://127.0.0.1:%d/lfs-storage/%s?repo=%s" % (port, sha, full),
                      "loop": "%s/src/%s/%s" % (base, commit, path)}[lfs_redirect]
            return self.send(301, b"", content_type="text/plain", headers={"Location": target})
        if typ == "blob":
            self.count("blob")
            data = objects(repo).blob(commit + ":" + path)
            with LOCK:
                STATS["blob_bytes"] += len(data)
            return self.send(200, data, content_type="application/octet-stream")
        if typ != "tree":
            return self.send(404, {"type": "error", "error": {"message": "No such file or directory: " + path}})
        self.count("tree")
        depth = max(1, int(q.get("max_depth", "1")))
        if depth_cap:
            depth = min(depth, depth_cap)
        listing = objects(repo).ls_tree(commit + (":" + path if path else ""), recursive=True, trees=True,
                                        long=True) or ""
        values = []
        for line in listing.splitlines():
            meta, p = line.split("\t", 1)
            mode, otype, sha, size = meta.split()
            if p.count("/") + 1 > depth:
                continue
            fullpath = (path + "/" + p) if path else p
            e = {"type": "commit_directory" if otype == "tree" else "commit_file", "path": fullpath,
                 "escaped_path": fullpath, "commit": {"type": "commit", "hash": commit},
                 "links": {"self": {"href": "%s/src/%s/%s" % (base, commit, fullpath)}}}
            if otype != "tree":
                e["attributes"] = (["executable"] if mode == "100755" else ["link"] if mode == "120000" else
                                   ["subrepository"] if mode == "160000" else [])
                with LOCK:
                    if fullpath in STATE.get("lfs", []):
                        e["attributes"].append("lfs")
                e["size"] = int(size) if size != "-" else 0
                e["mimetype"] = None
            values.append(e)
        values.extend(inject)
        return self.send(200, paged(values, "%s/src/%s/%s" % (base, commit, path + "/" if path else "")))
    if kind == "diffstat":
        self.count("diffstat")
        new, _, old = unquote(rest or "").partition("..")
        if q.get("merge", "true") != "false" and old:
            old = (git(repo, "merge-base", new, old) or "").strip()
        out = git(repo, "diff-tree", "-r", "-M", "--name-status", old or new + "^", new)
        if out is None:
            return self.send(404, {"type": "error", "error": {"message": "Commit not found"}})
        names = {"A": "added", "D": "removed", "M": "modified", "T": "modified", "R": "renamed"}
        side = lambda p: {"path": p, "type": "commit_file", "escaped_path": p} if p else None
        values = []
        for line in out.splitlines():
            parts = line.split("\t")
            status = names.get(parts[0][0], "modified")
            if status == "renamed":
                old_path, new_path = parts[1], parts[2]
            elif status == "added":
                old_path, new_path = None, parts[1]
            elif status == "removed":
                old_path, new_path = parts[1], None
            else:
                old_path = new_path = parts[1]
            values.append({"type": "diffstat", "status": status, "lines_added": 0, "lines_removed": 0,
                           "old": side(old_path), "new": side(new_path)})
        return self.send(200, paged(values, "%s/diffstat/%s" % (base, rest)))
    return self.send(404, not_found)


def bitbucket_cloud_write(self, repo, kind, rest, base):
    if kind == "refs/branches" and not rest:
        self.count("write_ref")
        body = self.json_body() or {}
        name, sha = body.get("name", ""), (body.get("target") or {}).get("hash", "")
        if not update_ref(repo, "refs/heads/" + name, sha, ""):
            return self.send(400, {"type": "error", "error": {"message": "BRANCH_ALREADY_EXISTS"}})
        return self.send(201, {"type": "branch", "name": name, "target": {"type": "commit", "hash": sha}})
    if kind != "src" or rest:
        return self.send(404, {"type": "error", "error": {"message": "Resource not found"}})
    fields = self.multipart_fields()
    if fields is None:
        return self.send(400, {"type": "error", "error": {"message": "expected multipart/form-data"}})
    self.count("write_commit")
    meta = {"message", "author", "parents", "files", "branch"}
    branch = first_text(fields, "branch") or "main"
    parents = [p for p in (first_text(fields, "parents") or "").split(",") if p]
    ref = "refs/heads/" + branch
    head = branch_head_for_write(repo, branch)
    if head and parents and parents[0] != head:
        self.count("write_rejected")
        return self.send(409, {"type": "error", "error": {"message": "Commit %s is not the head of %s" % (parents[0], branch)}})
    start = head or (parents[0] if parents else git(repo, "rev-parse", "refs/heads/main").strip())
    edits = []
    written = set()
    for name, items in fields.items():
        if name in meta:
            continue
        path = name.lstrip("/")
        data, params = items[0]
        attrs = params.get("x-attributes", "")
        mode = "100755" if "executable" in attrs else "120000" if "link" in attrs else "100644"
        blob = git(repo, "hash-object", "-w", "--stdin", input=data).strip()
        edits.append((path, mode, blob))
        written.add(path)
    for data, _ in fields.get("files", []):
        path = data.decode().lstrip("/")
        if path not in written:
            edits.append((path, None, None))
    tree, missing = write_tree(repo, start + "^{tree}", edits)
    if missing:
        return self.send(400, {"type": "error", "error": {"message": "No such file: " + missing}})
    am = re.match(r"^(.*?)\s*<([^>]*)>$", first_text(fields, "author") or "")
    author = (am.group(1), am.group(2)) if am else ("Bitbucket Token User", "token-user@bitbucket.example")
    sha = commit_tree(repo, tree, [start] + parents[1:], first_text(fields, "message") or "Edited online with Bitbucket",
                      author[0], author[1])
    if not update_ref(repo, ref, sha, head):
        self.count("write_rejected")
        return self.send(409, {"type": "error", "error": {"message": "The branch moved"}})
    return self.send(201, b"", content_type="text/plain", headers={"Location": base + "/commit/" + sha})


Handler.bitbucket_cloud_write = bitbucket_cloud_write


Handler.bitbucket_cloud = bitbucket_cloud


SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                        "If you reach out to GitHub Support for help, please include the request ID x.",
             "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
                                  "#about-secondary-rate-limits"}


def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


def content_limit_hit():
    """Whether one more content-generating request now would break the configured limits (and if
    not, records it)."""
    with LOCK:
        lim = STATE.get("content_limit")
        if not lim:
            return False
        scale = float(lim.get("scale", 1.0))
        now = time.monotonic()
        sent = [t for t in STATE.setdefault("content_sent", []) if now - t < 3600 * scale]
        STATE["content_sent"] = sent
        minute = [t for t in sent if now - t < 60 * scale]
        if len(minute) >= lim.get("per_minute", 80) or len(sent) >= lim.get("per_hour", 500):
            return True
        sent.append(now)
        return False


def limit_answer(self, provider):
    """The provider's documented rate-limit answer when a control asks for one, else None."""
    with LOCK:
        def take(key):
            if STATE.get(key, 0) > 0 and STATE.get("limit_path", "") in self.path:
                STATE[key] -= 1
                return True
            return False
        kind = next((k for k in ("rate_limit", "rate_limit_403", "retry_after_date", "secondary_limit",
                                 "secondary_limit_no_hint", "fail_5xx") if take(k)), None)
    now = int(time.time())
    wait = int(STATE.get("retry_after", 1))
    if kind == "fail_5xx":
        self.count("bad_gateway")
        return self.send(502, {"message": "Server Error"}) or True
    if provider == "github" and self.command != "GET" and kind is None and content_limit_hit():
        self.count("secondary_limited")
        return self.send(403, SECONDARY, headers={"x-ratelimit-remaining": "4990"}) or True
    if kind is None:
        return None
    self.count("rate_limited")
    if provider == "github":
        if kind == "rate_limit":
            return self.send(429, {"message": "API rate limit exceeded"}, headers={"Retry-After": str(wait)}) or True
        if kind == "retry_after_date":
            return self.send(429, {"message": "API rate limit exceeded"}, headers={"Retry-After": http_date(now + 2)}) or True
        if kind == "rate_limit_403":
            return self.send(403, {"message": "API rate limit exceeded for user ID 1."},
                             headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(now + 1)}) or True
        if kind == "secondary_limit":
            return self.send(403, SECONDARY, headers={"retry-after": "1", "x-ratelimit-remaining": "4990"}) or True
        return self.send(403, SECONDARY, headers={"x-ratelimit-remaining": "4990"}) or True
    if provider == "gitlab":
        return self.send(429, {"message": "Retry later"}, content_type="text/plain", headers={
            "Retry-After": str(wait), "RateLimit-Limit": "60", "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Observed": "67", "RateLimit-Remaining": "0", "RateLimit-Reset": str(now + wait),
            "RateLimit-ResetTime": http_date(now + wait)}) or True
    if provider == "azure":
        return self.send(429, {"message": "TF400733: The request has been canceled: Request was blocked due to "
                                          "exceeding usage of resource"}, headers={
            "Retry-After": str(wait), "X-RateLimit-Resource": "ATCPU", "X-RateLimit-Delay": "0.5",
            "X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now + wait)}) or True
    if provider == "bitbucket_cloud":
        return self.send(429, {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}) or True
    return self.send(429, {"errors": [{"message": "You have been rate limited."}]}) or True


Handler.limit_answer = limit_answer


def lfs_storage(self):
    """The storage a Bitbucket Cloud LFS download is redirected to: a pre-signed URL that refuses
    any other credentials."""
    self.count("lfs_storage")
    if self.headers.get("Authorization"):
        self.count("lfs_credentials_leaked")
        return self.send(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the "
                              b"X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization "
                              b"header should be specified</Message></Error>", content_type="application/xml")
    url = urllib.parse.urlsplit(self.path)
    q = dict(urllib.parse.parse_qsl(url.query))
    repo = self.repos.get(q.get("repo", ""))
    data = objects(repo).blob(url.path[len("/lfs-storage/"):]) if repo else None
    if data is None:
        return self.send(404, b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
    with LOCK:
        STATS["blob_bytes"] += len(data)
    return self.send(200, data, content_type="application/octet-stream")


Handler.lfs_storage = lfs_storage


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="0: any free port, written to --port-file")
    ap.add_argument("--port-file", default=None, help="written (whole, by a rename) once the server listens")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--repo", action="append", default=[], help="owner/name=/path/to/bare.git")
    ap.add_argument("--scopes", default=None, help="X-OAuth-Scopes to report (classic token); unset = fine-grained")
    a = ap.parse_args()
    Handler.scopes = a.scopes
    Handler.token = a.token
    Handler.repos = dict(r.split("=", 1) for r in a.repo)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)

    class TlsServer(ThreadingHTTPServer):
        daemon_threads = True
        # A fetch opens up to 8 download connections at once; the default backlog of 5 drops
        # the extra SYNs, which clients resend only after a second.
        request_queue_size = 64

        # The TLS handshake runs in the connection's own thread, with a deadline: a client
        # that connects and stalls (a port probe, a broken client) cannot block accept().
        def finish_request(self, request, client_address):
            request.settimeout(30)
            # Headers and body go out in separate writes: without TCP_NODELAY the body waits
            # for the client's delayed ACK (~40 ms per request).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
            super().finish_request(request, client_address)

    server = TlsServer(("127.0.0.1", a.port), Handler)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(a.port_file + ".tmp", a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
