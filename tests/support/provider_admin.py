"""Repository webhooks and commit statuses of the providers played by provider_api_server.py.

Each provider's documented endpoints and JSON shapes (a subset of the fields), kept in memory:

GitHub (REST 2022-11-28, under /api/v3):
  - https://docs.github.com/en/rest/repos/webhooks
      GET /repos/{o}/{r}/hooks?per_page=&page= -> [{"type": "Repository", "id", "name": "web", "active", "events",
      "config": {"content_type", "insecure_ssl", "url"}, "updated_at", "created_at", "url", "ping_url",
      "deliveries_url", "last_response": {"code", "status", "message"}}]  (the secret is never shown back)
      POST /repos/{o}/{r}/hooks {"name": "web", "active", "events", "config": {"url", "content_type", "secret",
      "insecure_ssl"}} -> 201 the hook;  PATCH /repos/{o}/{r}/hooks/{id} -> 200;  DELETE -> 204
  - https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook
      GET /repos/{o}/{r}/hooks/{id}/deliveries -> [{"id", "guid", "delivered_at", "redelivery", "duration", "status",
      "status_code", "event", "action"}], newest first (control {"deliveries": {"<hook id>": [...]}} sets them)
  - https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
      POST /repos/{o}/{r}/statuses/{sha} {"state": error|failure|pending|success, "target_url", "description",
      "context"} -> 201 {"id", "state", "description", "target_url", "context", ...}
  - A token that may not manage hooks (fine-grained without "Webhooks"): 403 {"message": "Resource not accessible by
      personal access token", "documentation_url", "status": "403"} with X-Accepted-GitHub-Permissions
      ("Troubleshooting the REST API": https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
GitLab (under /api/v4), https://docs.gitlab.com/ee/api/project_webhooks.html:
  - GET /projects/:id/hooks -> [{"id", "url", "project_id", "push_events", "push_events_branch_filter",
      "tag_push_events", "merge_requests_events", ..., "enable_ssl_verification", "created_at"}] (the token is not shown)
  - POST /projects/:id/hooks {"url", "token", "push_events", ...} -> 201;  PUT /projects/:id/hooks/:hook_id -> 200;
      DELETE -> 204
  - POST /projects/:id/statuses/:sha {"state": pending|running|success|failed|canceled, "name"|"context",
      "target_url", "description"} -> 201 (commits.html#set-the-pipeline-status-of-a-commit)
  - Without the Maintainer role (hooks) or the Developer role (statuses): 403 {"message": "403 Forbidden"}.
Bitbucket Cloud (under /bbc), https://developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/
  (webhooks) and api-group-commit-statuses:
  - GET /2.0/repositories/{ws}/{repo}/hooks -> {"pagelen", "size", "page", "values": [{"uuid": "{...}", "url",
      "description", "subject_type": "repository", "active", "events", "secret_set", "skip_cert_verification",
      "created_at"}]}
  - POST .../hooks {"description", "url", "active", "events", "secret"} -> 201;  PUT .../hooks/{uid} -> 200;
      DELETE -> 204
  - POST .../commit/{sha}/statuses/build {"key", "state": SUCCESSFUL|FAILED|INPROGRESS|STOPPED, "name", "url",
      "description"} -> 201 ("If the specified key already exists, the existing status object will be overwritten")
  - A token without the scope: 403 {"type": "error", "error": {"message": "Your credentials lack one or more required
      privilege scopes.", "detail": {"granted": [...], "required": ["webhook"]}}}.
Bitbucket Server / Data Center (under /bbs), https://developer.atlassian.com/server/bitbucket/rest/ (webhooks) and
  .../how-tos/updating-build-status-for-commits:
  - GET /rest/api/1.0/projects/{k}/repos/{s}/webhooks -> {"size", "limit", "isLastPage", "start", "values": [{"id",
      "name", "createdDate", "updatedDate", "events", "configuration": {}, "url", "active"}]}
  - POST .../webhooks {"name", "events", "configuration": {"secret"}, "url", "active"} -> 201;
      PUT .../webhooks/{id} -> 200;  DELETE -> 204
  - POST .../commits/{sha}/builds {"key", "state", "url", "name", "description"} -> 204
  - Without REPO_ADMIN: 401 {"errors": [{"context": null, "message": "You are not permitted to access this resource",
      "exceptionName": "com.atlassian.bitbucket.AuthorisationException"}]}.
Azure DevOps (under /azure/{org}), https://learn.microsoft.com/en-us/rest/api/azure/devops/hooks/subscriptions and
  .../git/statuses/create:
  - GET /{org}/_apis/hooks/subscriptions?publisherId=&eventType=&consumerId=&consumerActionId= -> {"count",
      "value": [{"id", "status": "enabled", "publisherId", "eventType", "resourceVersion", "consumerId",
      "consumerActionId", "publisherInputs": {"projectId", "repository", "branch"}, "consumerInputs": {"url",
      "basicAuthUsername", "basicAuthPassword": "********", "resourceDetailsToSend"}}]}
  - POST /{org}/_apis/hooks/subscriptions -> 200 the subscription;  PUT .../subscriptions/{id} -> 200;  DELETE -> 204
  - POST /{org}/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses {"state": succeeded|failed|pending|
      error|notApplicable, "description", "targetUrl", "context": {"name", "genre"}} -> 201
  - A PAT without the scope (vso.hooks_write, vso.code_status) is answered 401 (a PAT Azure does not know: 203).
Controls: {"token": {"may_not": ["hooks", "statuses"]}} makes the token lack that right; GET /__admin -> {"hooks":
{"<provider> <repo>": [stored hooks, secrets included]}, "statuses": {"<provider> <repo> <sha>": [posted bodies]}}.
"""
import json
import re
import threading
import time
import urllib.parse
import uuid

LOCK = threading.RLock()
HOOKS = {}      # "<provider> <repo>" -> [hook as stored, secret included]
STATUSES = {}   # "<provider> <repo> <sha>" -> [posted bodies]
NEXT_ID = [1]


def dump():
    with LOCK:
        return {"hooks": HOOKS, "statuses": STATUSES}


def new_id():
    with LOCK:
        NEXT_ID[0] += 1
        return NEXT_ID[0]


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


REFUSALS = {
    "github": (403, {"message": "Resource not accessible by personal access token",
                     "documentation_url": "https://docs.github.com/rest/repos/webhooks", "status": "403"}),
    "gitlab": (403, {"message": "403 Forbidden"}),
    "bitbucket_cloud": (403, {"type": "error", "error": {
        "message": "Your credentials lack one or more required privilege scopes.",
        "detail": {"granted": ["repository"], "required": ["webhook"]}}}),
    "bitbucket_server": (401, {"errors": [{"context": None, "message": "You are not permitted to access this resource",
                                           "exceptionName": "com.atlassian.bitbucket.AuthorisationException"}]}),
    "azure": (401, {"$id": "1", "innerException": None,
                    "message": "TF400813: The user 'token-user' is not authorized to access this resource.",
                    "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
                    "typeKey": "UnauthorizedRequestException", "errorCode": 0, "eventId": 3000}),
}


def refused(handler, provider, right, token_rules):
    if right not in token_rules().get("may_not", []):
        return None
    handler.count("admin_refused")
    status, body = REFUSALS[provider]
    if provider == "bitbucket_cloud" and right == "statuses":
        body = json.loads(json.dumps(body))
        body["error"]["detail"]["required"] = ["repository:write"]
    headers = {"X-Accepted-GitHub-Permissions": "repository_hooks=read" if right == "hooks" else "statuses=write"} \
        if provider == "github" else None
    return handler.send(status, body, headers=headers) or True


def hooks_of(key):
    with LOCK:
        return HOOKS.setdefault(key, [])


def shown(provider, h):
    """A stored hook as the provider shows it: never the secret."""
    out = {k: v for k, v in h.items() if k not in ("secret", "token")}
    if provider == "github":
        out["config"] = {k: v for k, v in h["config"].items() if k != "secret"}
    if provider == "bitbucket_cloud":
        out["secret_set"] = bool(h.get("secret"))
    if provider == "bitbucket_server":
        out["configuration"] = {}
    if provider == "azure":
        out["consumerInputs"] = dict(h["consumerInputs"], basicAuthPassword="********")
    return out


def crud(handler, provider, key, hook_id, make, update, id_field="id"):
    """List, create, update, delete hooks of `key` the provider's way."""
    body = handler.json_body() or {}
    hooks = hooks_of(key)
    if hook_id is None and handler.command == "GET":
        handler.count("hooks_list")
        with LOCK:
            return [shown(provider, h) for h in hooks]
    if hook_id is None and handler.command == "POST":
        handler.count("hook_create")
        h = make(body)
        with LOCK:
            hooks.append(h)
        return 201, shown(provider, h)
    with LOCK:
        h = next((x for x in hooks if str(x[id_field]) == hook_id), None)
    if h is None:
        return 404, None
    if handler.command in ("PATCH", "PUT"):
        handler.count("hook_update")
        with LOCK:
            update(h, body)
        return 200, shown(provider, h)
    if handler.command == "DELETE":
        handler.count("hook_delete")
        with LOCK:
            hooks.remove(h)
        return 204, None
    return 405, None


def post_status(handler, key, body):
    handler.count("status_post")
    with LOCK:
        STATUSES.setdefault(key, []).append(body)


def github(handler, path, token_rules, deliveries):
    m = re.match(r"^/api/v3/repos/([^/]+/[^/]+)/(hooks|statuses)(/([^/?]+))?(/deliveries)?(\?.*)?$", path)
    if not m or m.group(1) not in handler.repos:
        return None
    repo, kind, arg = m.group(1), m.group(2), m.group(4)
    r = refused(handler, "github", kind, token_rules)
    if r:
        return r
    if kind == "statuses":
        body = handler.json_body() or {}
        if handler.command != "POST" or body.get("state") not in ("error", "failure", "pending", "success"):
            return handler.send(422, {"message": "Validation Failed"}) or True
        post_status(handler, "github %s %s" % (repo, arg), body)
        return handler.send(201, dict(body, id=new_id(), created_at=now_iso())) or True
    if m.group(5):
        handler.count("hook_deliveries")
        with LOCK:
            return handler.send(200, list(deliveries().get(arg, []))) or True

    def make(b):
        return {"type": "Repository", "id": new_id(), "name": b.get("name", "web"), "active": b.get("active", True),
                "events": b.get("events", ["push"]), "config": dict(b.get("config") or {}), "created_at": now_iso(),
                "updated_at": now_iso(), "last_response": {"code": None, "status": "unused", "message": None}}

    def update(h, b):
        for k in ("active", "events"):
            if k in b:
                h[k] = b[k]
        if "config" in b:
            h["config"] = dict(b["config"])
        h["updated_at"] = now_iso()
    return answer(handler, crud(handler, "github", "github " + repo, arg, make, update), {"message": "Not Found"})


def answer(handler, result, not_found):
    if isinstance(result, list):
        return handler.send(200, result) or True
    status, body = result
    if status == 404:
        return handler.send(404, not_found) or True
    if body is None:
        return handler.send(status, b"", content_type="text/plain") or True
    return handler.send(status, body) or True


GITLAB_EVENTS = ("push_events", "tag_push_events", "merge_requests_events", "issues_events",
                 "confidential_issues_events", "note_events", "confidential_note_events", "job_events",
                 "pipeline_events", "wiki_page_events", "deployment_events", "releases_events")


def gitlab(handler, path, token_rules):
    m = re.match(r"^/api/v4/projects/([^/]+)/(hooks|statuses)(/([^/?]+))?(\?.*)?$", path)
    if not m:
        return None
    repo = urllib.parse.unquote(m.group(1))
    if repo not in handler.repos:
        return None
    kind, arg = m.group(2), m.group(4)
    r = refused(handler, "gitlab", kind, token_rules)
    if r:
        return r
    if kind == "statuses":
        body = handler.json_body() or {}
        if body.get("state") not in ("pending", "running", "success", "failed", "canceled"):
            return handler.send(400, {"message": "state does not have a valid value"}) or True
        post_status(handler, "gitlab %s %s" % (repo, arg), body)
        return handler.send(201, {"id": new_id(), "sha": arg, "status": body["state"],
                                  "name": body.get("name") or body.get("context") or "default",
                                  "target_url": body.get("target_url"), "description": body.get("description")}) or True

    def make(b):
        h = {"id": new_id(), "url": b.get("url", ""), "project_id": 1, "token": b.get("token", ""),
             "push_events_branch_filter": b.get("push_events_branch_filter", ""),
             "enable_ssl_verification": b.get("enable_ssl_verification", True), "created_at": now_iso()}
        for e in GITLAB_EVENTS:
            h[e] = b.get(e, e == "push_events")
        return h

    def update(h, b):
        for k, v in b.items():
            if k in h and k != "id":
                h[k] = v
    return answer(handler, crud(handler, "gitlab", "gitlab " + repo, arg, make, update),
                  {"message": "404 Not found"})


def bitbucket_cloud(handler, path, token_rules):
    m = re.match(r"^/bbc/2\.0/repositories/([^/]+/[^/]+)/(hooks(/([^/?]+))?|commit/([0-9a-f]+)/statuses/build)(\?.*)?$",
                 path)
    if not m or m.group(1) not in handler.repos:
        return None
    repo = m.group(1)
    kind = "statuses" if m.group(5) else "hooks"
    r = refused(handler, "bitbucket_cloud", kind, token_rules)
    if r:
        return r
    if kind == "statuses":
        body = handler.json_body() or {}
        if body.get("state") not in ("SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED") or not body.get("url"):
            return handler.send(400, {"type": "error", "error": {"message": "state and url are required"}}) or True
        post_status(handler, "bitbucket_cloud %s %s" % (repo, m.group(5)), body)
        return handler.send(201, dict(body, type="build", created_on=now_iso())) or True
    arg = urllib.parse.unquote(m.group(4)) if m.group(4) else None

    def make(b):
        return {"uuid": "{%s}" % uuid.uuid4(), "url": b.get("url", ""), "description": b.get("description", ""),
                "subject_type": "repository", "active": b.get("active", True), "events": b.get("events", []),
                "secret": b.get("secret"), "skip_cert_verification": b.get("skip_cert_verification", False),
                "created_at": now_iso()}

    def update(h, b):
        for k in ("url", "description", "active", "events", "secret", "skip_cert_verification"):
            if k in b:
                h[k] = b[k]
    result = crud(handler, "bitbucket_cloud", "bitbucket_cloud " + repo, arg, make, update, id_field="uuid")
    if isinstance(result, list):
        return handler.send(200, {"pagelen": 100, "size": len(result), "page": 1, "values": result}) or True
    return answer(handler, result, {"type": "error", "error": {"message": "Resource not found"}})


def bitbucket_server(handler, path, token_rules):
    m = re.match(r"^/bbs/rest/api/1\.0/projects/([^/]+)/repos/([^/]+)/(webhooks(/([^/?]+))?|commits/([0-9a-f]+)/builds)"
                 r"(\?.*)?$", path)
    if not m:
        return None
    key = (urllib.parse.unquote(m.group(1)) + "/" + urllib.parse.unquote(m.group(2))).lower()
    repo = next((k for k in handler.repos if k.lower() == key), None)
    if repo is None:
        return None
    kind = "statuses" if m.group(6) else "hooks"
    r = refused(handler, "bitbucket_server", kind, token_rules)
    if r:
        return r
    if kind == "statuses":
        body = handler.json_body() or {}
        if body.get("state") not in ("SUCCESSFUL", "FAILED", "INPROGRESS", "CANCELLED", "UNKNOWN") or not body.get("url"):
            return handler.send(400, {"errors": [{"message": "state, key and url are required"}]}) or True
        post_status(handler, "bitbucket_server %s %s" % (repo, m.group(6)), body)
        return handler.send(204, b"", content_type="text/plain") or True
    arg = m.group(5)

    def make(b):
        t = int(time.time() * 1000)
        return {"id": new_id(), "name": b.get("name", ""), "createdDate": t, "updatedDate": t,
                "events": b.get("events", []), "secret": (b.get("configuration") or {}).get("secret"),
                "url": b.get("url", ""), "active": b.get("active", True)}

    def update(h, b):
        for k in ("name", "events", "url", "active"):
            if k in b:
                h[k] = b[k]
        if "configuration" in b:
            h["secret"] = (b["configuration"] or {}).get("secret")
        h["updatedDate"] = int(time.time() * 1000)
    result = crud(handler, "bitbucket_server", "bitbucket_server " + repo, arg, make, update)
    if isinstance(result, list):
        return handler.send(200, {"size": len(result), "limit": 100, "isLastPage": True, "start": 0,
                                  "values": result}) or True
    return answer(handler, result, {"errors": [{"message": "Webhook not found"}]})


def azure_repo_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "repo/" + name))


def azure_project_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "project/" + name))


def azure(handler, path, token_rules):
    url = urllib.parse.urlsplit(path)
    s = re.match(r"^/azure/([^/]+)/_apis/hooks/subscriptions(/([^/]+))?$", url.path)
    st = re.match(r"^/azure/([^/]+)/([^/]+)/_apis/git/repositories/([^/]+)/commits/([0-9a-f]+)/statuses$", url.path)
    if not s and not st:
        return None
    r = refused(handler, "azure", "hooks" if s else "statuses", token_rules)
    if r:
        return r
    if st:
        body = handler.json_body() or {}
        if body.get("state") not in ("succeeded", "failed", "pending", "error", "notApplicable"):
            return handler.send(400, {"message": "Invalid state"}) or True
        name = urllib.parse.unquote(st.group(3))
        repo = next((k for k in handler.repos if k.split("/")[-1] == name), None)
        if repo is None:
            return handler.send(404, {"message": "TF401019: The Git repository does not exist"}) or True
        post_status(handler, "azure %s %s" % (repo, st.group(4)), body)
        return handler.send(201, dict(body, id=new_id(), creationDate=now_iso())) or True
    org = s.group(1)

    def make(b):
        return {"id": str(uuid.uuid4()), "status": "enabled", "publisherId": b.get("publisherId"),
                "eventType": b.get("eventType"), "resourceVersion": b.get("resourceVersion"),
                "consumerId": b.get("consumerId"), "consumerActionId": b.get("consumerActionId"),
                "publisherInputs": dict(b.get("publisherInputs") or {}),
                "consumerInputs": dict(b.get("consumerInputs") or {}), "createdDate": now_iso()}

    def update(h, b):
        for k in ("publisherId", "eventType", "resourceVersion", "consumerId", "consumerActionId", "publisherInputs",
                  "consumerInputs"):
            if k in b:
                h[k] = b[k]
        h["status"] = "enabled"
    result = crud(handler, "azure", "azure " + org, s.group(3), make, update)
    if isinstance(result, list):
        q = dict(urllib.parse.parse_qsl(url.query))
        keep = [h for h in result if all(h.get(k) == q[k] for k in ("publisherId", "eventType", "consumerId",
                                                                     "consumerActionId") if k in q)]
        return handler.send(200, {"count": len(keep), "value": keep}) or True
    if isinstance(result, tuple) and result[0] == 201:
        result = (200, result[1])  # Subscriptions - Create answers 200
    return answer(handler, result, {"message": "VS1050010: The subscription could not be found."})


def route(handler, provider, token_rules, deliveries):
    """The answer for a hook or status request (True once sent), or None when it is not one."""
    path = handler.path
    if provider == "github":
        return github(handler, path, token_rules, deliveries)
    if provider == "gitlab":
        return gitlab(handler, path, token_rules)
    if provider == "bitbucket_cloud":
        return bitbucket_cloud(handler, path, token_rules)
    if provider == "bitbucket_server":
        return bitbucket_server(handler, path, token_rules)
    return azure(handler, path, token_rules)
