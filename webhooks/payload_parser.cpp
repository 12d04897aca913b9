#include "webhooks/payload_parser.h"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <array>
#include <cstring>

namespace gitsyncd {
namespace {

namespace json = boost::json;

// ASCII case-insensitive equality (header values such as media types).
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string Header(const HeaderMap& h, std::string_view name) { return std::string(HeaderValue(h, name)); }

// A missing or null commit id, or Git's all-zeros "no commit" id.
bool IsNullId(std::string_view id) {
  return id.empty() || std::all_of(id.begin(), id.end(), [](char c) { return c == '0'; });
}

// Safe accessors: a payload is untrusted, any member may be missing or of another type.
const json::value* Member(const json::value* v, std::string_view key) {
  if (!v || !v->is_object()) return nullptr;
  return v->as_object().if_contains(key);
}
const json::value* Path(const json::value* v, std::initializer_list<std::string_view> keys) {
  for (auto k : keys) v = Member(v, k);
  return v;
}
std::string Str(const json::value* v) {
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
bool Bool(const json::value* v) { return v && v->is_bool() && v->as_bool(); }
const json::array* Array(const json::value* v) { return v && v->is_array() ? &v->as_array() : nullptr; }

std::string BranchOf(std::string_view ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (ref.substr(0, kHeads.size()) == kHeads) return std::string(ref.substr(kHeads.size()));
  return {};
}

Status Missing(std::string_view what, std::string_view format) {
  return Status::InvalidArgument(std::string(format) + " push payload has no " + std::string(what));
}

Result<PushEvent> ParseGitHub(const json::value& root, PushEvent e) {
  if (e.event == "ping") {
    e.ping = true;
  } else if (e.event == "push") {
    e.push = true;
    RefChange c;
    c.ref = Str(Member(&root, "ref"));
    if (c.ref.empty()) return Missing("'ref'", "GitHub");
    c.branch = BranchOf(c.ref);
    c.before = Str(Member(&root, "before"));
    c.after = Str(Member(&root, "after"));
    c.created = Bool(Member(&root, "created")) || IsNullId(c.before);
    c.deleted = Bool(Member(&root, "deleted")) || IsNullId(c.after);
    c.forced = Bool(Member(&root, "forced"));
    e.changes.push_back(std::move(c));
  }
  e.repo_full_name = Str(Path(&root, {"repository", "full_name"}));
  e.repo_name = Str(Path(&root, {"repository", "name"}));
  if (e.push && e.repo_full_name.empty() && e.repo_name.empty()) return Missing("'repository.full_name'", "GitHub");
  return e;
}

// Bitbucket Cloud and the Post Webhooks app share the push.changes[] shape.
Status ParseCloudChanges(const json::value& root, PushEvent* e, std::string_view format) {
  const json::array* changes = Array(Path(&root, {"push", "changes"}));
  if (!changes) return Missing("'push.changes' list", format);
  for (const json::value& ch : *changes) {
    const json::value* nw = Member(&ch, "new");
    const json::value* old = Member(&ch, "old");
    if (nw && nw->is_null()) nw = nullptr;
    if (old && old->is_null()) old = nullptr;
    const json::value* side = nw ? nw : old;
    if (!side) return Status::InvalidArgument(std::string(format) + " push change has neither 'new' nor 'old'");
    RefChange c;
    std::string type = Str(Member(side, "type"));
    std::string name = Str(Member(side, "name"));
    if (name.empty()) return Missing("ref 'name' in a change", format);
    c.ref = (type == "tag" ? "refs/tags/" : "refs/heads/") + name;
    if (type == "branch" || type == "named_branch") c.branch = name;
    c.before = Str(Path(old, {"target", "hash"}));
    c.after = Str(Path(nw, {"target", "hash"}));
    c.created = Bool(Member(&ch, "created")) || !old;
    c.deleted = Bool(Member(&ch, "closed")) || !nw;
    c.forced = Bool(Member(&ch, "forced"));
    e->changes.push_back(std::move(c));
  }
  return Status::Ok();
}

Result<PushEvent> ParseBitbucketCloud(const json::value& root, PushEvent e) {
  if (e.event != "repo:push") return e;
  e.push = true;
  if (Status s = ParseCloudChanges(root, &e, "Bitbucket Cloud"); !s.ok()) return s;
  e.repo_full_name = Str(Path(&root, {"repository", "full_name"}));
  e.repo_name = Str(Path(&root, {"repository", "name"}));
  if (e.repo_full_name.empty()) return Missing("'repository.full_name'", "Bitbucket Cloud");
  return e;
}

Result<PushEvent> ParsePostPlugin(const json::value& root, PushEvent e) {
  if (e.event != "repo:push") return e;
  e.push = true;
  if (Status s = ParseCloudChanges(root, &e, "Post Webhooks for Bitbucket"); !s.ok()) return s;
  e.repo_full_name = Str(Path(&root, {"repository", "fullName"}));
  e.repo_name = Str(Path(&root, {"repository", "slug"}));
  if (e.repo_full_name.empty() && e.repo_name.empty()) return Missing("'repository.fullName'", "Post Webhooks for Bitbucket");
  return e;
}

Result<PushEvent> ParseBitbucketServer(const json::value& root, PushEvent e) {
  if (e.event == "diagnostics:ping") {
    e.ping = true;
    return e;
  }
  if (e.event != "repo:refs_changed") return e;
  e.push = true;
  const json::array* changes = Array(Member(&root, "changes"));
  if (!changes) return Missing("'changes' list", "Bitbucket Server");
  for (const json::value& ch : *changes) {
    RefChange c;
    c.ref = Str(Member(&ch, "refId"));
    if (c.ref.empty()) c.ref = Str(Path(&ch, {"ref", "id"}));
    if (c.ref.empty()) return Missing("'refId' in a change", "Bitbucket Server");
    if (Str(Path(&ch, {"ref", "type"})) != "TAG") c.branch = BranchOf(c.ref);
    c.before = Str(Member(&ch, "fromHash"));
    c.after = Str(Member(&ch, "toHash"));
    std::string type = Str(Member(&ch, "type"));
    c.created = type == "ADD" || IsNullId(c.before);
    c.deleted = type == "DELETE" || IsNullId(c.after);
    e.changes.push_back(std::move(c));
  }
  std::string key = Str(Path(&root, {"repository", "project", "key"}));
  e.repo_name = Str(Path(&root, {"repository", "slug"}));
  if (e.repo_name.empty()) return Missing("'repository.slug'", "Bitbucket Server");
  e.repo_full_name = key.empty() ? e.repo_name : key + "/" + e.repo_name;
  return e;
}

Result<PushEvent> ParseGitLab(const json::value& root, PushEvent e) {
  if (e.event != "Push Hook") return e;
  e.push = true;
  RefChange c;
  c.ref = Str(Member(&root, "ref"));
  if (c.ref.empty()) return Missing("'ref'", "GitLab");
  c.branch = BranchOf(c.ref);
  c.before = Str(Member(&root, "before"));
  c.after = Str(Member(&root, "after"));
  c.created = IsNullId(c.before);
  c.deleted = IsNullId(c.after);
  e.changes.push_back(std::move(c));
  e.repo_full_name = Str(Path(&root, {"project", "path_with_namespace"}));
  e.repo_name = Str(Path(&root, {"project", "path"}));
  if (e.repo_name.empty()) e.repo_name = Str(Path(&root, {"project", "name"}));
  if (e.repo_full_name.empty()) return Missing("'project.path_with_namespace'", "GitLab");
  return e;
}

Result<PushEvent> ParseAzure(const json::value& root, PushEvent e) {
  e.event = Str(Member(&root, "eventType"));
  if (e.event.empty()) {
    return Status::InvalidArgument(
        "no provider event header (X-GitHub-Event, X-Gitlab-Event, X-Event-Key) and no Azure DevOps 'eventType' in the body");
  }
  if (e.delivery_id.empty()) e.delivery_id = Str(Member(&root, "id"));
  if (e.event != "git.push") return e;
  e.push = true;
  const json::array* updates = Array(Path(&root, {"resource", "refUpdates"}));
  if (!updates) return Missing("'resource.refUpdates' list", "Azure DevOps");
  for (const json::value& u : *updates) {
    RefChange c;
    c.ref = Str(Member(&u, "name"));
    if (c.ref.empty()) return Missing("ref 'name' in 'refUpdates'", "Azure DevOps");
    c.branch = BranchOf(c.ref);
    c.before = Str(Member(&u, "oldObjectId"));
    c.after = Str(Member(&u, "newObjectId"));
    c.created = IsNullId(c.before);
    c.deleted = IsNullId(c.after);
    e.changes.push_back(std::move(c));
  }
  e.repo_name = Str(Path(&root, {"resource", "repository", "name"}));
  std::string project = Str(Path(&root, {"resource", "repository", "project", "name"}));
  if (e.repo_name.empty()) return Missing("'resource.repository.name'", "Azure DevOps");
  e.repo_full_name = project.empty() ? e.repo_name : project + "/" + e.repo_name;
  return e;
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
  if (EqualsIgnoreCase(mime, "application/json")) return BodyEncoding::kJson;
  if (EqualsIgnoreCase(mime, "application/x-www-form-urlencoded")) return BodyEncoding::kForm;
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
    case WebhookFormat::kBitbucketCloud: return ParseBitbucketCloud(root, std::move(e));
    case WebhookFormat::kBitbucketServer: return ParseBitbucketServer(root, std::move(e));
    case WebhookFormat::kBitbucketPostPlugin: return ParsePostPlugin(root, std::move(e));
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

// The members the readers above look at, per sender format: a payload is tokenised in full
// (so malformed, truncated and too deep input is refused exactly as before), but only these
// members become values; everything else is skipped as it streams by. A node's `list` marks
// an array whose elements are kept (each filtered by the node's children); other arrays are
// kept empty (the readers only ever iterate lists), other objects keep only the named members.
struct FieldNode {
  std::string_view key;
  std::initializer_list<FieldNode> children = {};
  bool list = false;
};

// Bitbucket Cloud and the Post Webhooks app: push.changes[].{new,old}.
const FieldNode kCloudSide[] = {{"type"}, {"name"}, {"target", {{"hash"}}}};
// Azure DevOps delivers with no event header, so GitHub-looking and header-less deliveries
// both keep Azure's members too (the reader is chosen by format, the filter must not hide
// what it reads).
const FieldNode kAzureMembers[] = {
    {"eventType"},
    {"id"},
    {"resource",
     {{"refUpdates", {{"name"}, {"oldObjectId"}, {"newObjectId"}}, true},
      {"repository", {{"name"}, {"project", {{"name"}}}}}}}};

const FieldNode kGitHubRoot{"",
                            {{"ref"}, {"before"}, {"after"}, {"created"}, {"deleted"}, {"forced"},
                             {"repository", {{"full_name"}, {"name"}}}}};
const FieldNode kCloudRoot{
    "",
    {{"push",
      {{"changes",
        {{"new", {kCloudSide[0], kCloudSide[1], kCloudSide[2]}},
         {"old", {kCloudSide[0], kCloudSide[1], kCloudSide[2]}},
         {"created"},
         {"closed"},
         {"forced"}},
        true}}},
     {"repository", {{"full_name"}, {"name"}, {"fullName"}, {"slug"}}}}};
const FieldNode kServerRoot{
    "",
    {{"changes", {{"refId"}, {"ref", {{"id"}, {"type"}}}, {"fromHash"}, {"toHash"}, {"type"}}, true},
     {"repository", {{"slug"}, {"project", {{"key"}}}}}}};
const FieldNode kGitLabRoot{"", {{"ref"}, {"before"}, {"after"}, {"project", {{"path_with_namespace"}, {"path"}, {"name"}}}}};
const FieldNode kAzureRoot{"", {kAzureMembers[0], kAzureMembers[1], kAzureMembers[2]}};

const FieldNode& FieldsOf(WebhookFormat format) {
  switch (format) {
    case WebhookFormat::kGitHub: return kGitHubRoot;
    case WebhookFormat::kBitbucketCloud:
    case WebhookFormat::kBitbucketPostPlugin: return kCloudRoot;
    case WebhookFormat::kBitbucketServer: return kServerRoot;
    case WebhookFormat::kGitLab: return kGitLabRoot;
    case WebhookFormat::kAzureDevOps: return kAzureRoot;
  }
  return kAzureRoot;
}

// A basic_parser handler that builds the pruned document described by a FieldNode tree.
class FieldFilter {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  FieldFilter(const FieldNode* root, json::storage_ptr sp, unsigned char* temp, size_t temp_size)
      : root_(root), sp_(std::move(sp)), st_(json::storage_ptr(), temp, temp_size) {}

  json::value Release() { return st_.release(); }

  bool on_document_begin(json::error_code&) {
    st_.reset(sp_);
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return Begin(false); }
  bool on_object_end(std::size_t, json::error_code&) { return End(); }
  bool on_array_begin(json::error_code&) { return Begin(true); }
  bool on_array_end(std::size_t, json::error_code&) { return End(); }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    AppendKey(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    AppendKey(s);
    Key();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (!in_string_) {
      in_string_ = true;
      keep_string_ = Next();
    }
    if (keep_string_) st_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    bool keep = in_string_ ? keep_string_ : Next();
    in_string_ = false;
    if (keep) st_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    if (Next()) st_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    if (Next()) st_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (Next()) st_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    if (Next()) st_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    if (Next()) st_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    const FieldNode* node;
    bool array;
    bool keep_elements;
    size_t count;
  };
  static constexpr size_t kMaxKey = 32;  // longer keys match no FieldNode

  // A value starts: true when it is kept (and counted in its container).
  bool Next() {
    if (skip_depth_ > 0) return false;
    if (skip_value_) {
      skip_value_ = false;
      return false;
    }
    if (depth_ == 0) return true;  // the root
    Frame& f = frames_[depth_ - 1];
    if (f.array && !f.keep_elements) return false;
    ++f.count;
    return true;
  }
  bool Begin(bool array) {
    const Frame* parent = depth_ == 0 ? nullptr : &frames_[depth_ - 1];
    const FieldNode* node = !parent ? root_ : parent->array ? parent->node : pending_;
    bool nested_in_array = parent && parent->array;
    if (!Next()) {
      ++skip_depth_;
      return true;
    }
    if (depth_ == frames_.size()) {  // deeper than any FieldNode tree: cannot happen, but stay consistent
      st_.push_null();
      ++skip_depth_;
      return true;
    }
    frames_[depth_++] = {node, array, array && node->list && !nested_in_array, 0};
    return true;
  }
  bool End() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    const Frame& f = frames_[--depth_];
    if (f.array) {
      st_.push_array(f.count);
    } else {
      st_.push_object(f.count);
    }
    return true;
  }
  void AppendKey(json::string_view s) {
    if (skip_depth_ > 0 || key_size_ > kMaxKey) return;
    size_t n = std::min(s.size(), kMaxKey + 1 - key_size_);
    std::memcpy(key_ + key_size_, s.data(), n);
    key_size_ += n;
  }
  void Key() {
    std::string_view key(key_, key_size_);
    if (skip_depth_ == 0) {
      const FieldNode* hit = nullptr;
      if (key.size() <= kMaxKey) {
        for (const FieldNode& c : frames_[depth_ - 1].node->children) {
          if (c.key == key) {
            hit = &c;
            break;
          }
        }
      }
      if (hit) {
        st_.push_key(json::string_view(key.data(), key.size()));
        pending_ = hit;
      } else {
        skip_value_ = true;
      }
    }
    key_size_ = 0;
  }

  const FieldNode* root_;
  json::storage_ptr sp_;
  json::value_stack st_;
  std::array<Frame, 8> frames_{};
  size_t depth_ = 0;
  const FieldNode* pending_ = nullptr;  // the member whose value comes next
  size_t skip_depth_ = 0;               // > 0 inside a skipped container
  bool skip_value_ = false;             // the next value belongs to a skipped member
  bool in_string_ = false, keep_string_ = false;
  char key_[kMaxKey + 1];
  size_t key_size_ = 0;
};

}  // namespace

Result<PushEvent> ParsePushEvent(WebhookFormat format, std::string_view event, std::string_view text,
                                 const ParseLimits& limits) {
  json::parse_options options;
  options.max_depth = limits.max_depth;
  json::error_code ec;
  // The pruned document holds a few dozen values: a stack arena and a stack scratch buffer
  // for the parser's value stack mean no heap allocation in the common case.
  unsigned char arena[4096], temp[2048];
  json::monotonic_resource memory(arena, sizeof arena);
  json::basic_parser<FieldFilter> parser(options, &FieldsOf(format), json::storage_ptr(&memory), temp, sizeof temp);
  size_t used = parser.write_some(true, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (!ec) parser.write_some(false, nullptr, 0, ec);
  if (ec) return JsonError(ec, used, limits);
  return ReadPushEvent(format, event, parser.handler().Release());
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
