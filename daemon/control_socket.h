// The local control channel between the CLI and a running `gitsyncd run`: a Unix socket at
// <state_dir>/control.sock (mode 0600), answering only peers (SO_PEERCRED) with the daemon's
// own uid or root. One request line in, one response line out. Used by `gitsyncd sync-now`
// (and anything else that needs the live daemon rather than the state on disk).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace gitsyncd {

// Answers one request line ("sync-now NAME"); returns the response line (JSON).
using ControlHandler = std::function<std::string(const std::string& request)>;

class ControlServer {
 public:
  // Binds the socket (replacing a stale one) and serves requests on its own thread.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                      ControlHandler handler);
  ~ControlServer();  // stops the thread and removes the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  struct Impl;
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sends one request to the daemon and returns its response line. Unavailable when no daemon
// listens (the message says so and names the socket), or no answer came within `answer_timeout`
// (longer for requests that wait for a pass, such as sync-now).
Result<std::string> ControlRequest(const std::string& socket_path, const std::string& request,
                                   std::chrono::milliseconds answer_timeout = std::chrono::seconds(5));

std::string ControlSocketPath(const std::string& state_dir);

}  // namespace gitsyncd
