// Reads a webhook delivery: which sender format it is (from its headers) and what push it
// describes (from its JSON body). Pure functions over bytes, no I/O: the listener calls them
// on its threads, the fuzz target calls them with anything.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "webhooks/push_event.h"

namespace gitsyncd {

// Request headers with lowercased names (a repeated header keeps its first value).
using HeaderMap = std::map<std::string, std::string, std::less<>>;

// The value of header `name` (lowercase), or "" when absent; valid while `headers` lives.
std::string_view HeaderValue(const HeaderMap& headers, std::string_view name);

// The sender format from the provider's event headers: X-GitHub-Event, X-Gitlab-Event,
// X-Event-Key (+ X-Bitbucket-Type for the Post Webhooks app, X-Request-UUID / X-Hook-UUID for
// Bitbucket Cloud, otherwise Bitbucket Server). Azure DevOps sends no event header: a
// delivery with none of them is taken as Azure DevOps and must then parse as one.
WebhookFormat DetectFormat(const HeaderMap& headers);

// The event name and delivery id from the headers (Azure: filled in by ParsePushEvent).
std::string EventName(WebhookFormat format, const HeaderMap& headers);
std::string DeliveryId(WebhookFormat format, const HeaderMap& headers);

enum class BodyEncoding { kJson, kForm, kOther };
// From a Content-Type value ("application/json; charset=utf-8" -> kJson).
BodyEncoding ClassifyContentType(std::string_view content_type);

// For a form-encoded GitHub delivery (payload=<url-encoded JSON>): the JSON text.
Result<std::string> FormPayload(std::string_view body);

struct ParseLimits {
  unsigned max_depth = 64;  // JSON nesting; real payloads stay under 10
};

// Parses the JSON text of a delivery of `format` with event `event`. Errors are
// InvalidArgument with a message naming what is wrong ("malformed JSON at byte 812: ...",
// "push payload has no 'ref'"). The whole text is tokenised and checked (syntax, depth,
// trailing bytes), but only the members the format's reader needs are kept as values.
Result<PushEvent> ParsePushEvent(WebhookFormat format, std::string_view event, std::string_view json,
                                 const ParseLimits& limits = {});

// The same through a full JSON document: slower, kept as the reference the tests and the
// fuzz target compare ParsePushEvent with.
Result<PushEvent> ParsePushEventFullDocument(WebhookFormat format, std::string_view event, std::string_view json,
                                             const ParseLimits& limits = {});

}  // namespace gitsyncd
