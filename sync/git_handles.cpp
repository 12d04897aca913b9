#include "sync/git_handles.h"

#include <spdlog/spdlog.h>

#include "sync/socket_stream.h"
#include "sync/ssh_session_pool.h"
#include "sync/ssh_transport.h"
#include "sync/tls_stream.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace gitsyncd {

Status GitError(int rc, const std::string& context) {
  const git_error* e = git_error_last();
  std::string detail;
  if (e != nullptr && e->message != nullptr && e->message[0] != '\0') {
    detail = e->message;
  } else {
    detail = "libgit2 error code " + std::to_string(rc);
  }
  Status::Code code = Status::Code::kInternal;
  switch (rc) {
    case GIT_ENOTFOUND: code = Status::Code::kNotFound; break;
    case GIT_EEXISTS: code = Status::Code::kAlreadyExists; break;
    case GIT_EAUTH: code = Status::Code::kPermissionDenied; break;
    case GIT_ECERTIFICATE: code = Status::Code::kPermissionDenied; break;
    case GIT_ENONFASTFORWARD:
    case GIT_ECONFLICT:
    case GIT_EMERGECONFLICT:
    case GIT_ELOCKED: code = Status::Code::kConflict; break;
    default:
      if (e != nullptr && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_SSH ||
                           e->klass == GIT_ERROR_HTTP)) {
        code = Status::Code::kUnavailable;
      } else if (e != nullptr && e->klass == GIT_ERROR_OS) {
        code = Status::Code::kIoError;
      }
  }
  return Status::Error(code, context + ": " + detail);
}

void EnsureLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    InstallSocketStream();  // TCP_NODELAY and timeouts under every HTTPS remote
    InstallTlsStream();     // OpenSSL instead of mbedTLS over it
    InstallSshTransport();  // SSH sessions kept open between operations
    std::atexit([] { git_libgit2_shutdown(); });
    // Runs first (atexit is last in, first out): the pooled sessions close while libssh2 is up.
    std::atexit([] { CloseIdleSshSessions(); });
  });
}

std::string OidHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

void RemoveStaleLocks(const std::string& repo_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const char* top : {"HEAD.lock", "index.lock", "packed-refs.lock", "config.lock", "shallow.lock"}) {
    if (fs::exists(fs::path(repo_dir) / top, ec)) stale.push_back(fs::path(repo_dir) / top);
  }
  for (auto it = fs::recursive_directory_iterator(fs::path(repo_dir) / "refs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".lock") stale.push_back(it->path());
  }
  for (const auto& f : stale) {
    spdlog::warn("removing stale lock {} (left by an interrupted run)", f.string());
    fs::remove(f, ec);
  }
}

}  // namespace gitsyncd
