#include "daemon/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace gitsyncd {
namespace {

// Requests and answers are short; anything longer is refused rather than buffered.
constexpr size_t kMaxLine = 64 * 1024;
constexpr int kIoTimeoutMs = 5000;
constexpr char kRefusedPeer[] =
    "{\"ok\":false,\"error\":\"refused: only the daemon's own user or root may use the control socket\"}\n";

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("control socket path too long (" + path + ")");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Reads until '\n' within the timeout. Returns false on timeout, EOF or an over-long line.
bool ReadLine(int fd, std::string* line, int timeout_ms = kIoTimeoutMs) {
  line->clear();
  char buf[4096];
  while (line->find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    line->append(buf, static_cast<size_t>(n));
    if (line->size() > kMaxLine) return false;
  }
  line->resize(line->find('\n'));
  return true;
}

// Only the daemon's own user and root may drive it. The socket's mode (0600) says the same,
// but a loosened mode or a shared state directory must not open the daemon to other users.
bool PeerAllowed(int fd) {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) return false;
  return peer.uid == 0 || peer.uid == ::geteuid();
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

constexpr std::string_view kBusy = "{\"ok\":false,\"error\":\"the daemon is answering 8 control requests already; try again\"}\n";

struct ControlServer::Impl {
  std::string path;
  ControlHandler handler;
  Fd listener;
  int wake[2] = {-1, -1};
  std::thread thread;
  // Each client is answered on a thread of its own: a sync-now waits for its whole pass, and
  // must not hold back a pause or another sync-now meanwhile. At most kMaxClients at once.
  static constexpr int kMaxClients = 8;
  std::mutex mu;
  std::condition_variable idle;
  int active = 0;

  void Answer(Fd client) {
    std::string request;
    if (ReadLine(client.get(), &request)) WriteAll(client.get(), handler(request) + "\n");
    std::lock_guard<std::mutex> lock(mu);
    --active;
    idle.notify_all();
  }

  void Serve() {
    for (;;) {
      pollfd fds[2] = {{listener.get(), POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client.get() < 0) continue;
      if (!PeerAllowed(client.get())) {
        WriteAll(client.get(), kRefusedPeer);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (active >= kMaxClients) {
          WriteAll(client.get(), std::string(kBusy));
          continue;
        }
        ++active;
      }
      std::thread([this, c = std::move(client)]() mutable { Answer(std::move(c)); }).detach();
    }
  }
};

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                            ControlHandler handler) {
  auto addr = Address(socket_path);
  if (!addr.ok()) return addr.status();
  auto impl = std::make_unique<Impl>();
  impl->path = socket_path;
  impl->handler = std::move(handler);
  impl->listener = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (impl->listener.get() < 0) return Status::IoError("socket(): " + std::string(std::strerror(errno)));
  // A socket left by a killed daemon would make bind() fail; it is ours to replace.
  ::unlink(socket_path.c_str());
  mode_t old_mask = ::umask(0077);
  int rc = ::bind(impl->listener.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un));
  ::umask(old_mask);
  if (rc != 0) {
    return Status::IoError("cannot bind control socket " + socket_path + ": " + std::strerror(errno));
  }
  if (::listen(impl->listener.get(), 16) != 0 || ::pipe2(impl->wake, O_CLOEXEC) != 0) {
    return Status::IoError("cannot listen on control socket " + socket_path + ": " + std::strerror(errno));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Serve(); });
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() {
  if (!impl_) return;
  if (impl_->wake[1] >= 0) {
    char c = 'x';
    [[maybe_unused]] ssize_t n = ::write(impl_->wake[1], &c, 1);
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    // The engine is stopped first (cmd_run), so a client waiting on a pass is answered soon.
    std::unique_lock<std::mutex> lock(impl_->mu);
    impl_->idle.wait(lock, [&] { return impl_->active == 0; });
  }
  for (int fd : impl_->wake) {
    if (fd >= 0) ::close(fd);
  }
  ::unlink(impl_->path.c_str());
}

Result<std::string> ControlRequest(const std::string& socket_path, const std::string& request,
                                   std::chrono::milliseconds answer_timeout) {
  auto addr = Address(socket_path);
  if (!addr.ok()) return addr.status();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::IoError("socket(): " + std::string(std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    return Status::Unavailable("gitsyncd is not running (no daemon listens on " + socket_path +
                               ": " + std::strerror(errno) + ")");
  }
  std::string response;
  if (!WriteAll(fd.get(), request + "\n")) {
    // A daemon that refuses this peer answers and closes without reading: show its answer.
    std::string error = std::strerror(errno);
    if (ReadLine(fd.get(), &response)) return response;
    return Status::Unavailable("cannot send to " + socket_path + ": " + error);
  }
  if (!ReadLine(fd.get(), &response, static_cast<int>(answer_timeout.count()))) {
    return Status::Unavailable("no answer from the daemon on " + socket_path);
  }
  return response;
}

std::string ControlSocketPath(const std::string& state_dir) { return state_dir + "/control.sock"; }

}  // namespace gitsyncd
