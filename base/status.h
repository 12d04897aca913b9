// Status and Result<T>: how every module reports failure across its border.
// Exceptions never cross a module boundary; a failing call returns a Status whose
// message is already fit for a user (it names the place: file:line:col, connector, path).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace gitsyncd {

class Status {
 public:
  // Broad categories, so callers can branch (e.g. retry on Unavailable) without parsing text.
  enum class Code {
    kOk = 0,
    kInvalidArgument,   // bad input from the user: config, CLI argument, webhook payload
    kNotFound,          // a named thing does not exist (secret, connector, branch, file)
    kAlreadyExists,     // refusing to overwrite
    kPermissionDenied,  // auth failed, signature mismatch, file mode
    kCorrupted,         // data on disk or from a remote failed an integrity check
    kUnavailable,       // transient: network down, remote busy; worth retrying
    kConflict,          // the remote moved under us, or edits collide
    kIoError,           // local filesystem failure
    kInternal,          // a bug or an unexpected library failure
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(Code code, std::string message) { return Status(code, std::move(message)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status PermissionDenied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
  static Status Corrupted(std::string m) { return Status(Code::kCorrupted, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "message" for errors, "OK" for success.
  std::string ToString() const { return ok() ? std::string("OK") : message_; }

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace gitsyncd
