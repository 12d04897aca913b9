#include "sync/receive_pack.h"

#include <fcntl.h>
#include <git2/sys/transport.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sync/child_spawn.h"

extern char** environ;

namespace gitsyncd {
namespace {

constexpr int kIoTimeoutSeconds = 120;  // no byte from receive-pack for this long = failure
constexpr size_t kMaxStderr = 4096;     // the tail of its stderr kept for the error message

// The child and our ends of its stdin+stdout (one socket) and its stderr.
struct Child {
  pid_t pid = -1;
  int io = -1;
  int err = -1;
  std::string path;
  std::string stderr_tail;
};

struct Subtransport;

// Plain C layout: libgit2 hands back a pointer to the first member.
struct Stream {
  git_smart_subtransport_stream parent;
  Subtransport* owner;
  Child* child;
};

struct Subtransport {
  git_smart_subtransport parent;
  Stream* current;
};

int Fail(const std::string& message) {
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

// file:///srv/x.git or file://localhost/srv/x.git -> /srv/x.git, %XX decoded.
bool PathOfFileUrl(const std::string& url, std::string* path) {
  if (!IsFileUrl(url)) return false;
  std::string rest = url.substr(7);
  if (rest.rfind("localhost/", 0) == 0) rest = rest.substr(9);
  if (rest.empty() || rest[0] != '/') return false;
  path->clear();
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && std::isxdigit(static_cast<unsigned char>(rest[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(rest[i + 2]))) {
      path->push_back(static_cast<char>(std::stoi(rest.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      path->push_back(rest[i]);
    }
  }
  return path->find('\0') == std::string::npos;
}

// Keeps the last kMaxStderr bytes the child wrote to stderr, without blocking.
void DrainStderr(Child* c) {
  char buf[1024];
  for (;;) {
    ssize_t n = ::recv(c->err, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    c->stderr_tail.append(buf, static_cast<size_t>(n));
    if (c->stderr_tail.size() > kMaxStderr) c->stderr_tail.erase(0, c->stderr_tail.size() - kMaxStderr);
  }
}

std::string StderrSummary(Child* c) {
  DrainStderr(c);
  std::string s = c->stderr_tail;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (auto& ch : s) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return s;
}

// The environment minus GIT_* variables (GIT_DIR and friends would point the child at
// another repository than the remote).
std::vector<char*> ChildEnvironment() {
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "GIT_", 4) != 0) env.push_back(*e);
  }
  env.push_back(nullptr);
  return env;
}

// Starts `git receive-pack <path>` with its stdin and stdout on one socket and its stderr on
// another; only those three descriptors are inherited, signals start at their defaults.
int Spawn(Child* c) {
  int io[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) != 0) return errno;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) != 0) {
    int saved = errno;
    ::close(io[0]);
    ::close(io[1]);
    return saved;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, io[1], 0);
  posix_spawn_file_actions_adddup2(&actions, io[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr, false);
  std::string git = "git", service = "receive-pack";
  std::vector<char*> argv = {git.data(), service.data(), c->path.data(), nullptr};
  std::vector<char*> env = ChildEnvironment();
  int rc = posix_spawnp(&c->pid, "git", &actions, &attr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(io[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(io[0]);
    ::close(err[0]);
    c->pid = -1;
    return rc;
  }
  c->io = io[0];
  c->err = err[0];
  timeval tv{kIoTimeoutSeconds, 0};
  ::setsockopt(c->io, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(c->io, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return 0;
}

// Ends the child's input, lets it finish (it exits at the end of its input), and reaps it.
// One that does not finish within the timeout gets SIGTERM, on which git removes its locks.
void Finish(Child* c) {
  if (c->pid > 0) {
    ::shutdown(c->io, SHUT_WR);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kIoTimeoutSeconds);
    int status = 0;
    while (::waitpid(c->pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(c->pid, SIGTERM);
        ::waitpid(c->pid, &status, 0);
        break;
      }
      char buf[4096];
      ::recv(c->io, buf, sizeof buf, MSG_DONTWAIT);  // a child blocked writing to us can go on
      DrainStderr(c);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  if (c->io >= 0) ::close(c->io);
  if (c->err >= 0) ::close(c->err);
  c->pid = -1;
  c->io = c->err = -1;
}

Child* ChildOf(git_smart_subtransport_stream* s) { return reinterpret_cast<Stream*>(s)->child; }

int StreamRead(git_smart_subtransport_stream* s, char* buffer, size_t size, size_t* bytes_read) {
  Child* c = ChildOf(s);
  *bytes_read = 0;
  for (;;) {
    ssize_t n = ::recv(c->io, buffer, size, 0);
    if (n > 0) {
      *bytes_read = static_cast<size_t>(n);
      return 0;
    }
    if (n == 0) {
      std::string why = StderrSummary(c);
      if (why.empty()) return 0;  // end of stream; libgit2 reports what it still expected
      return Fail("git receive-pack " + c->path + ": " + why);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Fail("git receive-pack " + c->path + " sent nothing for " + std::to_string(kIoTimeoutSeconds) + " s");
    }
    return Fail("cannot read from git receive-pack " + c->path + ": " + std::strerror(errno));
  }
}

int StreamWrite(git_smart_subtransport_stream* s, const char* buffer, size_t len) {
  Child* c = ChildOf(s);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::send(c->io, buffer + done, len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    std::string why = StderrSummary(c);
    return Fail("cannot write to git receive-pack " + c->path + ": " +
                (why.empty() ? std::string(n < 0 ? std::strerror(errno) : "closed") : why));
  }
  return 0;
}

void StreamFree(git_smart_subtransport_stream* s) {
  auto* stream = reinterpret_cast<Stream*>(s);
  Finish(stream->child);
  if (stream->owner->current == stream) stream->owner->current = nullptr;
  delete stream->child;
  delete stream;
}

int Action(git_smart_subtransport_stream** out, git_smart_subtransport* transport, const char* url,
           git_smart_service_t action) {
  auto* t = reinterpret_cast<Subtransport*>(transport);
  *out = nullptr;
  if (action == GIT_SERVICE_RECEIVEPACK && t->current != nullptr) {
    *out = &t->current->parent;
    return 0;
  }
  // Closing asks for an upload-pack stream to say goodbye; receive-pack needs no goodbye
  // (it ends with its input), so that request is declined without an error message.
  if (action == GIT_SERVICE_UPLOADPACK) return -1;
  if (action != GIT_SERVICE_RECEIVEPACK_LS) return Fail("this transport only pushes");
  auto child = std::make_unique<Child>();
  if (!PathOfFileUrl(url, &child->path)) return Fail(std::string("not a local repository URL: ") + url);
  if (int rc = Spawn(child.get()); rc != 0) {
    return Fail("cannot run git receive-pack for " + child->path + " (a file:// remote needs the git program): " +
                std::strerror(rc));
  }
  auto* stream = new Stream{};
  stream->parent.subtransport = transport;
  stream->parent.read = StreamRead;
  stream->parent.write = StreamWrite;
  stream->parent.free = StreamFree;
  stream->owner = t;
  stream->child = child.release();
  t->current = stream;
  *out = &stream->parent;
  return 0;
}

int Close(git_smart_subtransport*) { return 0; }

void Free(git_smart_subtransport* transport) { delete reinterpret_cast<Subtransport*>(transport); }

int NewSubtransport(git_smart_subtransport** out, git_transport*, void*) {
  auto* t = new Subtransport{};
  t->parent.action = Action;
  t->parent.close = Close;
  t->parent.free = Free;
  t->current = nullptr;
  *out = &t->parent;
  return 0;
}

}  // namespace

bool IsFileUrl(const std::string& url) { return url.rfind("file://", 0) == 0; }

int ReceivePackTransport(git_transport** out, git_remote* owner, void* /*payload*/) {
  // Stateful (rpc = 0): the advertisement and the push share one receive-pack process.
  static git_smart_subtransport_definition definition = {NewSubtransport, 0, nullptr};
  return git_transport_smart(out, owner, &definition);
}

}  // namespace gitsyncd
