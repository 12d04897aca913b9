// Shared by the provider readers: reading untrusted JSON answers (any member may be missing
// or of another type) and turning an HTTP status into our Status with the reader's words.
#pragma once


#include <boost/json.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "api/https_client.h"
#include "base/status.h"

namespace gitsyncd::api_answer {

inline const boost::json::value* Member(const boost::json::value& v, std::string_view key) {
  return v.is_object() ? v.as_object().if_contains(key) : nullptr;
}
inline const boost::json::value* Member(const boost::json::value* v, std::string_view key) {
  return v ? Member(*v, key) : nullptr;
}
inline std::string Str(const boost::json::value* v) {
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
// A list of strings as "a, b" (other members as "?"); "" when it is no list.
inline std::string StrList(const boost::json::value* v) {
  std::string out;
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->as_array()) out += (out.empty() ? "" : ", ") + (x.is_string() ? std::string(x.as_string()) : "?");
  return out;
}
inline bool True(const boost::json::value* v) { return v && v->is_bool() && v->as_bool(); }

// A Git object id: 40 (SHA-1) or 64 (SHA-256) hex digits.
inline bool IsObjectId(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// 200 passes; 401/403/404/other become PermissionDenied/NotFound/Unavailable naming `what`,
// the API `base` and, for 403, the permission the token needs (`needs`, may be empty).
inline Result<HttpsResponse> Checked(Result<HttpsResponse> res, const std::string& what, const std::string& base,
                                     const std::string& repo, const std::string& needs = "") {
  if (!res.ok()) return Status(res.status()).WithContext(what);
  int st = res->status;
  if (st == 200) return res;
  if (st == 401 || st == 203) {  // Azure answers a sign-in page (203) for a refused PAT
    return Status::PermissionDenied(what + ": the API token was refused (HTTP " + std::to_string(st) + ") by " + base);
  }
  if (st == 403) {
    return Status::PermissionDenied(what + ": the API token may not read " + repo + " (HTTP 403" +
                                    (needs.empty() ? "" : "; it needs " + needs) + ")");
  }
  if (st == 404) return Status::NotFound(what + ": not found (HTTP 404) in " + repo);
  return Status::Unavailable(what + ": HTTP " + std::to_string(st) + " from " + base + ": " + res->body.substr(0, 200));
}

// For a write (`what` names the provider, the step and the file): 2xx passes; answers
// `moved(status, body)` recognizes (the provider's compare-and-swap failed) become Conflict,
// so the pass fetches, merges and writes again; 401/403 name the permission `needs`; others
// are errors with the provider's own message.
inline Result<HttpsResponse> CheckedWrite(Result<HttpsResponse> res, const std::string& what, const std::string& base,
                                          const std::string& repo, const std::string& needs,
                                          const std::function<bool(int, const std::string&)>& moved) {
  if (!res.ok()) return Status(res.status()).WithContext(what);
  int st = res->status;
  if (st >= 200 && st < 300) return res;
  std::string said = res->body.substr(0, 300);
  if (moved && moved(st, res->body)) {
    return Status::Conflict(what + ": the branch moved (HTTP " + std::to_string(st) + ": " + said + ")");
  }
  if (st == 401) return Status::PermissionDenied(what + ": the API token was refused (HTTP 401) by " + base);
  if (st == 403 || st == 404) {
    return Status::PermissionDenied(what + ": the API token may not write to " + repo + " (HTTP " + std::to_string(st) +
                                    (needs.empty() ? "" : "; it needs " + needs) + "): " + said);
  }
  if (st >= 500) return Status::Unavailable(what + ": HTTP " + std::to_string(st) + " from " + base + ": " + said);
  return Status::InvalidArgument(what + ": refused by " + base + " (HTTP " + std::to_string(st) + "): " + said);
}

inline Result<boost::json::value> ParseJson(const HttpsResponse& res, const std::string& what) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(res.body, ec);
  if (ec) return Status::Corrupted(what + ": the API answered malformed JSON (" + ec.message() + ")");
  return v;
}

}  // namespace gitsyncd::api_answer
