#include "webhooks/payload_parser.h"

#include "config/text.h"
#include "webhooks/json_member_filter.h"

#include <boost/json.hpp>
#include <boost/pfr/core.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>

namespace gitsyncd {
namespace {

namespace json = boost::json;

std::string Header(const HeaderMap& h, std::string_view name) { return std::string(HeaderValue(h, name)); }

// A missing or null commit id, or Git's all-zeros "no commit" id.
bool IsNullId(std::string_view id) {
  return id.empty() || std::all_of(id.begin(), id.end(), [](char c) { return c == '0'; });
}

// Where each sender format keeps what a push is read from, as MemberTree paths ("a.b",
// "list[].x"). This is the one list of members per format: the readers below read only through
// these paths, and the streaming filter keeps exactly them (walked with Boost.PFR).
struct GitHubPaths {
  std::string_view ref = "ref", before = "before", after = "after", created = "created", deleted = "deleted",
                   forced = "forced", full_name = "repository.full_name", name = "repository.name";
};
// Bitbucket Cloud and the Post Webhooks app: push.changes[] with a `new` and an `old` side.
struct CloudPaths {
  std::string_view changes = "push.changes[]", new_side = "push.changes[].new", old_side = "push.changes[].old",
                   new_type = "push.changes[].new.type", new_name = "push.changes[].new.name",
                   new_hash = "push.changes[].new.target.hash", old_type = "push.changes[].old.type",
                   old_name = "push.changes[].old.name", old_hash = "push.changes[].old.target.hash",
                   created = "push.changes[].created", closed = "push.changes[].closed",
                   forced = "push.changes[].forced", full_name, name;
};
struct ServerPaths {
  std::string_view changes = "changes[]", ref_id = "changes[].refId", ref_id_nested = "changes[].ref.id",
                   ref_type = "changes[].ref.type", from = "changes[].fromHash", to = "changes[].toHash",
                   type = "changes[].type", slug = "repository.slug", project_key = "repository.project.key";
};
struct GitLabPaths {
  std::string_view ref = "ref", before = "before", after = "after", full_name = "project.path_with_namespace",
                   path = "project.path", name = "project.name";
};
struct AzurePaths {
  std::string_view event_type = "eventType", id = "id", updates = "resource.refUpdates[]",
                   name = "resource.refUpdates[].name", old_id = "resource.refUpdates[].oldObjectId",
                   new_id = "resource.refUpdates[].newObjectId", repo = "resource.repository.name",
                   project = "resource.repository.project.name";
};

constexpr GitHubPaths kGitHub;
constexpr CloudPaths kCloud{.full_name = "repository.full_name", .name = "repository.name"};
constexpr CloudPaths kPostPlugin{.full_name = "repository.fullName", .name = "repository.slug"};
constexpr ServerPaths kServer;
constexpr GitLabPaths kGitLab;
constexpr AzurePaths kAzure;

// Safe access: a payload is untrusted, any member may be missing or of another type.
// `path` is read below `base` (an element of the list `base` names), or from the root.
const json::value* At(const json::value* v, std::string_view path, std::string_view base = {}) {
  if (!base.empty()) path.remove_prefix(base.size() + 1);
  while (v && !path.empty()) {
    size_t dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    if (key.size() > 2 && key.substr(key.size() - 2) == "[]") key.remove_suffix(2);
    v = v->is_object() ? v->as_object().if_contains(key) : nullptr;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return v && !v->is_null() ? v : nullptr;
}
std::string Str(const json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : std::string(); }
bool Bool(const json::value* v) { return v && v->is_bool() && v->as_bool(); }
const json::array* Array(const json::value* v) { return v && v->is_array() ? &v->as_array() : nullptr; }

std::string BranchOf(std::string_view ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (ref.substr(0, kHeads.size()) == kHeads) return std::string(ref.substr(kHeads.size()));
  return {};
}

// "GitHub push payload has no 'ref'"; a list path reads "'push.changes' list".
Status Missing(std::string_view path, std::string_view format) {
  std::string what(path);
  if (what.size() > 2 && what.ends_with("[]")) what = "'" + what.substr(0, what.size() - 2) + "' list";
  else what = "'" + what + "'";
  return Status::InvalidArgument(std::string(format) + " push payload has no " + what);
}

// GitHub and GitLab name one ref per push at the top level (`ref`, `before`, `after`); a null
// id on either side means the branch was created or deleted.
template <typename Paths>
Result<RefChange> ReadTopLevelPush(const json::value& root, const Paths& p, std::string_view format) {
  RefChange c;
  c.ref = Str(At(&root, p.ref));
  if (c.ref.empty()) return Missing(p.ref, format);
  c.branch = BranchOf(c.ref);
  c.before = Str(At(&root, p.before));
  c.after = Str(At(&root, p.after));
  c.created = IsNullId(c.before);
  c.deleted = IsNullId(c.after);
  return c;
}

Result<PushEvent> ParseGitHub(const json::value& root, PushEvent e) {
  const GitHubPaths& p = kGitHub;
  if (e.event == "ping") {
    e.ping = true;
  } else if (e.event == "push") {
    e.push = true;
    auto read = ReadTopLevelPush(root, p, "GitHub");
    if (!read.ok()) return read.status();
    RefChange c = std::move(read).value();
    c.created = c.created || Bool(At(&root, p.created));
    c.deleted = c.deleted || Bool(At(&root, p.deleted));
    c.forced = Bool(At(&root, p.forced));
    e.changes.push_back(std::move(c));
  }
  e.repo_full_name = Str(At(&root, p.full_name));
  e.repo_name = Str(At(&root, p.name));
  if (e.push && e.repo_full_name.empty() && e.repo_name.empty()) return Missing(p.full_name, "GitHub");
  return e;
}

// Bitbucket Cloud and the Post Webhooks app: one shape but for the repository's names.
Result<PushEvent> ParseCloudPush(const json::value& root, PushEvent e, const CloudPaths& p, std::string_view format) {
  if (e.event != "repo:push") return e;
  e.push = true;
  const json::array* changes = Array(At(&root, p.changes));
  if (!changes) return Missing(p.changes, format);
  for (const json::value& ch : *changes) {
    const json::value* nw = At(&ch, p.new_side, p.changes);
    const json::value* old = At(&ch, p.old_side, p.changes);
    if (!nw && !old) return Status::InvalidArgument(std::string(format) + " push change has neither 'new' nor 'old'");
    RefChange c;
    std::string type = Str(At(&ch, nw ? p.new_type : p.old_type, p.changes));
    std::string name = Str(At(&ch, nw ? p.new_name : p.old_name, p.changes));
    if (name.empty()) return Status::InvalidArgument(std::string(format) + " push payload has no ref 'name' in a change");
    c.ref = (type == "tag" ? "refs/tags/" : "refs/heads/") + name;
    if (type == "branch" || type == "named_branch") c.branch = name;
    c.before = Str(At(&ch, p.old_hash, p.changes));
    c.after = Str(At(&ch, p.new_hash, p.changes));
    c.created = Bool(At(&ch, p.created, p.changes)) || !old;
    c.deleted = Bool(At(&ch, p.closed, p.changes)) || !nw;
    c.forced = Bool(At(&ch, p.forced, p.changes));
    e.changes.push_back(std::move(c));
  }
  e.repo_full_name = Str(At(&root, p.full_name));
  e.repo_name = Str(At(&root, p.name));
  if (e.repo_full_name.empty() && e.repo_name.empty()) return Missing(p.full_name, format);
  return e;
}

Result<PushEvent> ParseBitbucketServer(const json::value& root, PushEvent e) {
  const ServerPaths& p = kServer;
  if (e.event == "diagnostics:ping") {
    e.ping = true;
    return e;
  }
  if (e.event != "repo:refs_changed") return e;
  e.push = true;
  const json::array* changes = Array(At(&root, p.changes));
  if (!changes) return Missing(p.changes, "Bitbucket Server");
  for (const json::value& ch : *changes) {
    RefChange c;
    c.ref = Str(At(&ch, p.ref_id, p.changes));
    if (c.ref.empty()) c.ref = Str(At(&ch, p.ref_id_nested, p.changes));
    if (c.ref.empty()) return Missing(p.ref_id, "Bitbucket Server");
    if (Str(At(&ch, p.ref_type, p.changes)) != "TAG") c.branch = BranchOf(c.ref);
    c.before = Str(At(&ch, p.from, p.changes));
    c.after = Str(At(&ch, p.to, p.changes));
    std::string type = Str(At(&ch, p.type, p.changes));
    c.created = type == "ADD" || IsNullId(c.before);
    c.deleted = type == "DELETE" || IsNullId(c.after);
    e.changes.push_back(std::move(c));
  }
  std::string key = Str(At(&root, p.project_key));
  e.repo_name = Str(At(&root, p.slug));
  if (e.repo_name.empty()) return Missing(p.slug, "Bitbucket Server");
  e.repo_full_name = key.empty() ? e.repo_name : key + "/" + e.repo_name;
  return e;
}

Result<PushEvent> ParseGitLab(const json::value& root, PushEvent e) {
  const GitLabPaths& p = kGitLab;
  if (e.event != "Push Hook") return e;
  e.push = true;
  auto c = ReadTopLevelPush(root, p, "GitLab");
  if (!c.ok()) return c.status();
  e.changes.push_back(std::move(c).value());
  e.repo_full_name = Str(At(&root, p.full_name));
  e.repo_name = Str(At(&root, p.path));
  if (e.repo_name.empty()) e.repo_name = Str(At(&root, p.name));
  if (e.repo_full_name.empty()) return Missing(p.full_name, "GitLab");
  return e;
}

Result<PushEvent> ParseAzure(const json::value& root, PushEvent e) {
  const AzurePaths& p = kAzure;
  e.event = Str(At(&root, p.event_type));
  if (e.event.empty()) {
    return Status::InvalidArgument(
        "no provider event header (X-GitHub-Event, X-Gitlab-Event, X-Event-Key) and no Azure DevOps 'eventType' in the body");
  }
  if (e.delivery_id.empty()) e.delivery_id = Str(At(&root, p.id));
  if (e.event != "git.push") return e;
  e.push = true;
  const json::array* updates = Array(At(&root, p.updates));
  if (!updates) return Missing(p.updates, "Azure DevOps");
  for (const json::value& u : *updates) {
    RefChange c;
    c.ref = Str(At(&u, p.name, p.updates));
    if (c.ref.empty()) return Status::InvalidArgument("Azure DevOps push payload has no ref 'name' in 'refUpdates'");
    c.branch = BranchOf(c.ref);
    c.before = Str(At(&u, p.old_id, p.updates));
    c.after = Str(At(&u, p.new_id, p.updates));
    c.created = IsNullId(c.before);
    c.deleted = IsNullId(c.after);
    e.changes.push_back(std::move(c));
  }
  e.repo_name = Str(At(&root, p.repo));
  std::string project = Str(At(&root, p.project));
  if (e.repo_name.empty()) return Missing(p.repo, "Azure DevOps");
  e.repo_full_name = project.empty() ? e.repo_name : project + "/" + e.repo_name;
  return e;
}

// The members a format's reader reads, from its path table.
template <class Paths>
MemberTree TreeOf(const Paths& paths) {
  MemberTree tree;
  boost::pfr::for_each_field(paths, [&](std::string_view path) { tree.Add(path); });
  return tree;
}

const MemberTree& MembersOf(WebhookFormat format) {
  static const MemberTree github = TreeOf(kGitHub), cloud = TreeOf(kCloud), plugin = TreeOf(kPostPlugin),
                          server = TreeOf(kServer), gitlab = TreeOf(kGitLab), azure = TreeOf(kAzure);
  switch (format) {
    case WebhookFormat::kGitHub: return github;
    case WebhookFormat::kBitbucketCloud: return cloud;
    case WebhookFormat::kBitbucketPostPlugin: return plugin;
    case WebhookFormat::kBitbucketServer: return server;
    case WebhookFormat::kGitLab: return gitlab;
    case WebhookFormat::kAzureDevOps: return azure;
  }
  return azure;
}

}  // namespace

std::string_view WebhookFormatName(WebhookFormat f) {
  switch (f) {
    case WebhookFormat::kGitHub: return "github";
    case WebhookFormat::kBitbucketCloud: return "bitbucket-cloud";
    case WebhookFormat::kBitbucketServer: return "bitbucket-server";
    case WebhookFormat::kBitbucketPostPlugin: return "bitbucket-post-webhooks";
    case WebhookFormat::kGitLab: return "gitlab";
    case WebhookFormat::kAzureDevOps: return "azure-devops";
  }
  return "?";
}

Provider WebhookFormatProvider(WebhookFormat f) {
  switch (f) {
    case WebhookFormat::kGitHub: return Provider::kGitHub;
    case WebhookFormat::kBitbucketCloud: return Provider::kBitbucketCloud;
    case WebhookFormat::kBitbucketServer:
    case WebhookFormat::kBitbucketPostPlugin: return Provider::kBitbucketServer;
    case WebhookFormat::kGitLab: return Provider::kGitLab;
    case WebhookFormat::kAzureDevOps: return Provider::kAzureRepos;
  }
  return Provider::kGit;
}

WebhookFormat DetectFormat(const HeaderMap& h) {
  if (h.count("x-github-event")) return WebhookFormat::kGitHub;
  if (h.count("x-gitlab-event")) return WebhookFormat::kGitLab;
  if (h.count("x-event-key")) {
    if (h.count("x-bitbucket-type")) return WebhookFormat::kBitbucketPostPlugin;
    if (h.count("x-request-uuid") || h.count("x-hook-uuid")) return WebhookFormat::kBitbucketCloud;
    std::string key = Header(h, "x-event-key");
    if (key == "repo:refs_changed" || key == "diagnostics:ping" || h.count("x-request-id")) {
      return WebhookFormat::kBitbucketServer;
    }
    return WebhookFormat::kBitbucketCloud;
  }
  return WebhookFormat::kAzureDevOps;
}

std::string EventName(WebhookFormat format, const HeaderMap& h) {
  switch (format) {
    case WebhookFormat::kGitHub: return Header(h, "x-github-event");
    case WebhookFormat::kGitLab: return Header(h, "x-gitlab-event");
    case WebhookFormat::kAzureDevOps: return {};
    default: return Header(h, "x-event-key");
  }
}

std::string DeliveryId(WebhookFormat format, const HeaderMap& h) {
  switch (format) {
    case WebhookFormat::kGitHub: return Header(h, "x-github-delivery");
    case WebhookFormat::kGitLab: {
      // Idempotency-Key stays the same across GitLab's retries of one event (GitLab 17.4+).
      std::string id = Header(h, "idempotency-key");
      return id.empty() ? Header(h, "x-gitlab-event-uuid") : id;
    }
    case WebhookFormat::kBitbucketCloud: return Header(h, "x-request-uuid");
    case WebhookFormat::kBitbucketServer:
    case WebhookFormat::kBitbucketPostPlugin: return Header(h, "x-request-id");
    case WebhookFormat::kAzureDevOps: return {};
  }
  return {};
}

std::string_view HeaderValue(const HeaderMap& headers, std::string_view name) {
  auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

BodyEncoding ClassifyContentType(std::string_view content_type) {
  std::string_view mime = content_type.substr(0, content_type.find(';'));
  while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
  std::string lower = AsciiLower(std::string(mime));
  if (lower == "application/json") return BodyEncoding::kJson;
  if (lower == "application/x-www-form-urlencoded") return BodyEncoding::kForm;
  return BodyEncoding::kOther;
}

Result<std::string> FormPayload(std::string_view body) {
  auto params = boost::urls::parse_query(body);
  if (!params) return Status::InvalidArgument("form body is not valid URL encoding: " + params.error().message());
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (auto p : *params) {
    if (p.key == "payload" && p.has_value) return p.value.decode(opts);
  }
  return Status::InvalidArgument("form body has no 'payload' field");
}

namespace {

Result<PushEvent> ReadPushEvent(WebhookFormat format, std::string_view event, const json::value& root) {
  if (!root.is_object()) return Status::InvalidArgument("payload is not a JSON object");
  PushEvent e;
  e.format = format;
  e.event = std::string(event);
  switch (format) {
    case WebhookFormat::kGitHub: return ParseGitHub(root, std::move(e));
    case WebhookFormat::kBitbucketCloud: return ParseCloudPush(root, std::move(e), kCloud, "Bitbucket Cloud");
    case WebhookFormat::kBitbucketServer: return ParseBitbucketServer(root, std::move(e));
    case WebhookFormat::kBitbucketPostPlugin:
      return ParseCloudPush(root, std::move(e), kPostPlugin, "Post Webhooks for Bitbucket");
    case WebhookFormat::kGitLab: return ParseGitLab(root, std::move(e));
    case WebhookFormat::kAzureDevOps: return ParseAzure(root, std::move(e));
  }
  return Status::Internal("unknown webhook format");
}

Status JsonError(const json::error_code& ec, size_t used, const ParseLimits& limits) {
  std::string what = ec == json::error::too_deep ? "nested deeper than " + std::to_string(limits.max_depth) + " levels"
                                                 : ec.message();
  return Status::InvalidArgument("malformed JSON at byte " + std::to_string(used) + ": " + what);
}

}  // namespace

Result<PushEvent> ParsePushEvent(WebhookFormat format, std::string_view event, std::string_view text,
                                 const ParseLimits& limits) {
  json::error_code ec;
  size_t used = 0;
  // The pruned document holds a few dozen values: a stack arena means no heap allocation in
  // the common case.
  unsigned char arena[4096];
  json::monotonic_resource memory(arena, sizeof arena);
  json::value root = ParsePruned(MembersOf(format), text, limits.max_depth, json::storage_ptr(&memory), ec, &used);
  if (ec) return JsonError(ec, used, limits);
  return ReadPushEvent(format, event, root);
}

Result<PushEvent> ParsePushEventFullDocument(WebhookFormat format, std::string_view event, std::string_view text,
                                             const ParseLimits& limits) {
  json::parse_options options;
  options.max_depth = limits.max_depth;
  json::error_code ec;
  json::stream_parser parser(json::storage_ptr(), options);
  size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return JsonError(ec, used, limits);
  return ReadPushEvent(format, event, parser.release());
}

}  // namespace gitsyncd
