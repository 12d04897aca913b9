#!/usr/bin/env python3
"""A test server that serves a real local bare Git repository through GitHub's REST API.

It follows GitHub's documented endpoints and JSON shapes (REST API version 2022-11-28):
  - Repositories: https://docs.github.com/en/rest/repos/repos#get-a-repository
      GET /repos/{owner}/{repo} -> {"full_name", "private", "default_branch", ...}; classic tokens get X-OAuth-Scopes
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
      429 with Retry-After, or 403 with x-ratelimit-remaining: 0 and x-ratelimit-reset.
The Git data comes from the `git` CLI on the bare repository, so ids are real object ids.

Test controls (not GitHub's): POST /__control with a JSON object
  {"rate_limit": N}          the next N API requests get 429 + Retry-After: 1
  {"rate_limit_403": N}      the next N get 403 + x-ratelimit-remaining: 0 + x-ratelimit-reset: now+1
  {"truncate": true}         recursive tree listings answer "truncated": true with only the top level
  {"inject": {...entry}}     add this entry to every tree listing (hostile paths, symlinks...)
  {"fail_5xx": N}            the next N API requests get 502
and GET /__stats -> {"requests": {...by kind...}, "blob_bytes": n, "bytes_sent": body bytes of all answers}.
"""
import argparse
import json
import re
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
STATE = {"rate_limit": 0, "rate_limit_403": 0, "truncate": False, "inject": [], "fail_5xx": 0}
STATS = {"requests": {}, "blob_bytes": 0, "bytes_sent": 0}


def git(repo, *args, binary=False):
    out = subprocess.run(["git", "--git-dir", repo, *args], capture_output=True, check=False)
    if out.returncode != 0:
        return None
    return out.stdout if binary else out.stdout.decode()


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
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        with LOCK:
            STATS["bytes_sent"] += len(data)

    def count(self, kind):
        with LOCK:
            STATS["requests"][kind] = STATS["requests"].get(kind, 0) + 1

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/__control":
            return self.send(404, {"message": "Not Found"})
        with LOCK:
            for k, v in body.items():
                if k == "inject":
                    STATE["inject"].append(v)
                else:
                    STATE[k] = v
        self.send(200, {"ok": True})

    def do_GET(self):
        if self.path == "/__stats":
            with LOCK:
                return self.send(200, STATS)
        auth = self.headers.get("Authorization", "")
        if auth not in ("Bearer " + self.token, "token " + self.token):
            self.count("unauthorized")
            return self.send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        with LOCK:
            if STATE["rate_limit"] > 0:
                STATE["rate_limit"] -= 1
                limited = "429"
            elif STATE["rate_limit_403"] > 0:
                STATE["rate_limit_403"] -= 1
                limited = "403"
            elif STATE["fail_5xx"] > 0:
                STATE["fail_5xx"] -= 1
                limited = "502"
            else:
                limited = ""
        if limited == "429":
            self.count("rate_limited")
            return self.send(429, {"message": "API rate limit exceeded"}, headers={"Retry-After": "1"})
        if limited == "403":
            self.count("rate_limited")
            return self.send(403, {"message": "API rate limit exceeded"},
                             headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 1)})
        if limited == "502":
            self.count("bad_gateway")
            return self.send(502, {"message": "Server Error"})
        r = re.match(r"^/api/v3/repos/([^/]+/[^/]+)$", self.path)
        if r and r.group(1) in self.repos:
            # https://docs.github.com/en/rest/repos/repos#get-a-repository (a subset of the fields)
            self.count("repo")
            owner, name = r.group(1).split("/")
            extra = {"X-OAuth-Scopes": self.scopes} if self.scopes is not None else {}
            return self.send(200, {"id": 1, "name": name, "full_name": r.group(1), "private": True,
                                   "owner": {"login": owner}, "default_branch": "main"}, headers=extra)
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
            sha = git(repo, "rev-parse", "--verify", "-q", "refs/heads/" + branch)
            if not sha:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, {"ref": "refs/heads/" + branch, "node_id": "x", "url": base + "/refs/heads/" + branch,
                                   "object": {"sha": sha.strip(), "type": "commit", "url": base + "/commits/" + sha.strip()}})
        if kind == "commits":
            self.count("commit")
            text = git(repo, "cat-file", "commit", arg)
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
            args = ["ls-tree", "-l", "--full-tree"] + (["-r", "-t"] if recursive and not truncate else []) + [arg]
            listing = git(repo, *args)
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
            data = git(repo, "cat-file", "blob", arg, binary=True)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
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

        # The TLS handshake runs in the connection's own thread, with a deadline: a client
        # that connects and stalls (a port probe, a broken client) cannot block accept().
        def finish_request(self, request, client_address):
            request.settimeout(30)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
            super().finish_request(request, client_address)

    server = TlsServer(("127.0.0.1", a.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
