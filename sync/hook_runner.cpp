// posix_spawn rather than Boost.Process: a hook must start with an empty signal mask (the
// daemon blocks SIGTERM/SIGINT/SIGHUP in every thread to take them synchronously) in a process
// group of its own, inheriting no descriptor but its three, and glibc's posix_spawn does all
// of that with vfork semantics, safe in a threaded program. Boost.Process 1.81 forks and needs
// custom initializers for each of these.
#include "sync/hook_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "api/io_cancel.h"
#include "sync/child_spawn.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The only PATH a hook sees, and where a program named without a '/' is looked up.
constexpr const char* kHookPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string dirs = kHookPath;
  size_t start = 0;
  while (start < dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

// A private folder (0700) for the changed-files list, removed with everything in it.
struct TempFolder {
  std::string path;
  ~TempFolder() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

struct Spawned {
  pid_t pid = -1;
  int out = -1;  // read end of the hook's stdout+stderr
  std::string error;
};

Spawned Spawn(const std::string& program, const std::vector<std::string>& args, const std::vector<std::string>& env,
              const std::string& cwd) {
  Spawned s;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    s.error = std::string("pipe: ") + std::strerror(errno);
    return s;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr, /*own_group=*/true);  // killed whole
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int rc = ::posix_spawn(&s.pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    s.pid = -1;
    s.error = "cannot start " + program + ": " + std::strerror(rc);
    return s;
  }
  s.out = pipefd[0];
  return s;
}

// Reads the hook's output until its group is gone, killing the group at the deadline or on
// cancellation, and when the hook itself exits (nothing it started outlives it).
void Supervise(const Spawned& s, std::chrono::seconds timeout, HookResult* r) {
  auto deadline = Clock::now() + timeout;
  std::shared_ptr<IoCancel> cancel = CurrentIoCancel();
  bool exited = false, eof = false, killed = false;
  Clock::time_point killed_at{};
  char buf[4096];
  // A process that left the group (setsid) may hold the output open: after the kill, its
  // output is read for 2 s at most.
  while ((!exited || !eof) && !(killed && exited && Clock::now() > killed_at + std::chrono::seconds(2))) {
    if (!eof) {
      pollfd p{s.out, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        ssize_t n = ::read(s.out, buf, sizeof buf);
        if (n > 0) {
          size_t keep = std::min(static_cast<size_t>(n), kHookOutputCap - std::min(kHookOutputCap, r->output.size()));
          r->output.append(buf, keep);
        } else if (n == 0 || errno != EINTR) {
          eof = true;
        }
      }
    } else {
      ::usleep(20000);
    }
    if (!exited) {
      siginfo_t info{};
      // WNOWAIT: the pid stays ours (not reused) until the group is killed below.
      if (::waitid(P_PID, static_cast<id_t>(s.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == s.pid) {
        exited = true;
        if (!killed) r->exit_code = info.si_code == CLD_EXITED ? info.si_status : -1;
      }
    }
    bool cancelled = cancel && cancel->cancelled();
    if (!killed && (exited || Clock::now() >= deadline || cancelled)) {
      if (!exited) {
        r->timed_out = !cancelled;
        r->cancelled = cancelled;
      }
      ::kill(-s.pid, SIGKILL);
      killed = true;
      killed_at = Clock::now();
    }
  }
  int status = 0;
  ::waitpid(s.pid, &status, 0);
  ::close(s.out);
}

}  // namespace

std::string HookResult::Describe(const std::string& hook) const {
  std::string what = "hook " + hook;
  if (!ran) return what + " could not run: " + error;
  if (timed_out) what += " was killed at its timeout";
  else if (cancelled) what += " was killed: the daemon is stopping";
  else if (exit_code < 0) what += " was killed by a signal";
  else what += " exited with " + std::to_string(exit_code);
  std::string out = output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? what : what + ": " + out;
}

HookResult RunHook(const HookConfig& config, const HookCall& call) {
  HookResult r;
  TempFolder temp;
  std::string pattern = call.temp_parent + "/hook-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    r.error = "cannot create a folder in " + call.temp_parent + ": " + std::strerror(errno);
    return r;
  }
  temp.path = pattern;
  std::string list = temp.path + "/changed-files";
  {
    std::ofstream out(list, std::ios::binary);
    for (const auto& f : call.changed_files) out << f << '\n';
    if (!out) {
      r.error = "cannot write " + list;
      return r;
    }
  }
  std::string program = FindProgram(config.command[0]);
  if (program.empty()) {
    r.error = "no program '" + config.command[0] + "' in " + kHookPath;
    return r;
  }
  std::vector<std::string> env = {std::string("PATH=") + kHookPath,  "LANG=C.UTF-8",
                                  "HOME=" + temp.path,                "GITSYNCD_HOOK=" + call.hook,
                                  "GITSYNCD_BINDING=" + call.binding, "GITSYNCD_COMMIT=" + call.commit,
                                  "GITSYNCD_DIRECTION=" + call.direction, "GITSYNCD_CHANGED_FILES=" + list};
  if (!call.tree.empty()) env.push_back("GITSYNCD_TREE=" + call.tree);
  Spawned s = Spawn(program, config.command, env, call.tree.empty() ? call.work_dir : call.tree);
  if (s.pid < 0) {
    r.error = s.error;
    return r;
  }
  r.ran = true;
  Supervise(s, config.timeout, &r);
  return r;
}

}  // namespace gitsyncd
