// The daemon's surfaces, attacked the way the issue found them open: a real `gitsyncd run` with
// a public listener (webhooks) and an operator listener (status page, /metrics, /api/); requests
// that a DNS-rebinding page, a cross-site form or a local reverse proxy would send; and the
// control socket reached by another local user.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/control_socket.h"
#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

constexpr uid_t kNobody = 65534;

std::string Base64(const std::string& s) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// A daemon with one file:// binding "app", its public listener on `public_port` and whatever
// `operator_yaml` says about the operator listener.
struct OperatorFixture {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc", remote = dir / "remote.git", local = dir / "srv/app";
  int public_port = FreePort(), operator_port = FreePort();
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}};

  OperatorFixture() {
    InitBareRepo(remote);
    WriteFile(cfg + "/connectors.d/team.yaml", "name: team\nprovider: git\nurl: file://" + remote +
                                                   "\nwebhook:\n  enabled: true\nsyncs:\n  - name: app\n    local: " +
                                                   local + "\n");
  }
  void WriteDaemonConfig(const std::string& operator_yaml) {
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nlisten:\n  port: " +
                                          std::to_string(public_port) + "\n" + operator_yaml);
  }
  std::string OperatorHost() const { return "127.0.0.1:" + std::to_string(operator_port); }
  HttpReply Operator(const std::string& method, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers, const std::string& body = "") {
    return HttpExchange(operator_port, BuildRequest(method, target, headers, body));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(operator_surface, OperatorFixture)

BOOST_AUTO_TEST_CASE(operator_endpoints_refuse_rebound_hosts_cross_site_requests_and_the_public_port) {
  WriteDaemonConfig("operator:\n  listen: 127.0.0.1:" + std::to_string(operator_port) + "\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  const std::string host = OperatorHost();

  // The request from the issue: a page on evil.example rebound to 127.0.0.1 posting text/plain.
  HttpReply evil = Operator("POST", "/api/v1/syncs/app/sync",
                            {{"Host", "evil.example"}, {"Origin", "http://evil.example"}, {"Content-Type", "text/plain"}});
  BOOST_TEST(evil.status == 403, evil.body);
  BOOST_TEST(evil.body.find("'evil.example' is not served here") != std::string::npos, evil.body);
  // Reading through a rebound name: nothing of the status leaks.
  HttpReply rebound = Operator("GET", "/api/v1/status", {{"Host", "evil.example:" + std::to_string(operator_port)}});
  BOOST_TEST(rebound.status == 403);
  BOOST_TEST(rebound.body.find(remote) == std::string::npos, rebound.body);
  BOOST_TEST(Operator("GET", "/", {{"Host", "evil.example"}}).status == 403);
  // The right Host, but another origin's page (a form or fetch from it).
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync",
                      {{"Host", host}, {"Origin", "http://evil.example"}, {"Content-Type", "application/json"}})
                 .status == 403);
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync",
                      {{"Host", host}, {"Sec-Fetch-Site", "cross-site"}, {"Content-Type", "application/json"}})
                 .status == 403);
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync",
                      {{"Host", host}, {"Sec-Fetch-Site", "same-site"}, {"Content-Type", "application/json"}})
                 .status == 403);
  BOOST_TEST(Operator("GET", "/api/v1/status", {{"Host", host}, {"Origin", "null"}}).status == 403);
  // A state change that a form could send (no JSON content type).
  HttpReply form = Operator("POST", "/api/v1/syncs/app/sync", {{"Host", host}, {"Content-Type", "text/plain"}});
  BOOST_TEST(form.status == 415, form.body);
  BOOST_TEST(Operator("POST", "/api/v1/imports", {{"Host", host}}, "{\"connector\": \"team\"}").status == 415);

  // What the operator's own tools send is answered.
  HttpReply queued = Operator("POST", "/api/v1/syncs/app/sync", {{"Host", host}, {"Content-Type", "application/json"}});
  BOOST_TEST(queued.status == 202, queued.body);
  HttpReply same_origin = Operator("POST", "/api/v1/syncs/app/sync",
                                   {{"Host", "localhost:" + std::to_string(operator_port)},
                                    {"Origin", "http://localhost:" + std::to_string(operator_port)},
                                    {"Sec-Fetch-Site", "same-origin"},
                                    {"Content-Type", "application/json; charset=utf-8"}});
  BOOST_TEST(same_origin.status == 202, same_origin.body);
  HttpReply status = Operator("GET", "/api/v1/status", {{"Host", host}, {"Sec-Fetch-Site", "same-origin"}});
  BOOST_TEST(status.status == 200);
  BOOST_TEST(status.body.find("\"app\"") != std::string::npos, status.body);
  BOOST_TEST(Operator("GET", "/metrics", {{"Host", "[::1]:" + std::to_string(operator_port)}}).status == 200);
  BOOST_TEST(Operator("GET", "/", {{"Host", host}, {"Sec-Fetch-Site", "none"}}).status == 200);

  // The public listener serves webhooks and health only: every operator endpoint is 404 there,
  // also from loopback (a reverse proxy on this host forwards the internet from loopback).
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/status"}, {"POST", "/api/v1/syncs/app/sync"}, {"POST", "/api/v1/imports"},
           {"GET", "/metrics"}, {"GET", "/"}, {"GET", "/ui/status.js"}}) {
    HttpReply r = HttpExchange(public_port, BuildRequest(method, target, {{"Content-Type", "application/json"}}, "{}"));
    BOOST_TEST(r.status == 404, method << " " << target << ": " << r.body);
    BOOST_TEST(r.body.find(remote) == std::string::npos);
  }
  BOOST_TEST(HttpExchange(public_port, BuildRequest("GET", "/healthz", {}, "")).status == 200);
  // The operator listener is not a webhook receiver either.
  BOOST_TEST(Operator("POST", "/webhooks/x/y", {{"Host", host}, {"Content-Type", "application/json"}}, "{}").status ==
             404);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(an_admin_token_is_required_on_every_operator_request_and_never_logged) {
  const std::string admin = "adm-5d1e0c77-token";
  env["GITSYNCD_ADMIN"] = admin;
  WriteDaemonConfig("operator:\n  listen: 127.0.0.1:" + std::to_string(operator_port) +
                    "\n  admin_token: {env: GITSYNCD_ADMIN}\n  hosts: [gitsyncd.example.net]\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  const std::string host = OperatorHost();

  // Loopback is no pass: a proxy on this host would make every client loopback.
  HttpReply none = Operator("GET", "/api/v1/status", {{"Host", host}});
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.headers["www-authenticate"].find("Basic realm=") == 0u);
  BOOST_TEST(Operator("GET", "/", {{"Host", host}}).status == 401);
  BOOST_TEST(Operator("GET", "/metrics", {{"Host", host}, {"Authorization", "Bearer wrong"}}).status == 401);
  BOOST_TEST(Operator("GET", "/metrics", {{"Host", host}, {"Authorization", "Bearer " + admin + "x"}}).status == 401);
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync", {{"Host", host}, {"Content-Type", "application/json"}}).status ==
             401);

  HttpReply bearer = Operator("GET", "/api/v1/status", {{"Host", host}, {"Authorization", "Bearer " + admin}});
  BOOST_TEST(bearer.status == 200, bearer.body);
  // A browser asked by WWW-Authenticate sends Basic with the token as the password.
  std::string basic = "Basic " + Base64("operator:" + admin);
  BOOST_TEST(Operator("GET", "/", {{"Host", host}, {"Authorization", basic}}).status == 200);
  BOOST_TEST(Operator("GET", "/api/v1/status", {{"Host", "gitsyncd.example.net"}, {"Authorization", basic}}).status ==
             200);
  BOOST_TEST(Operator("GET", "/api/v1/status", {{"Host", "other.example.net"}, {"Authorization", basic}}).status ==
             403);
  // The token does not lift the other checks.
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync",
                      {{"Host", host}, {"Authorization", "Bearer " + admin}, {"Content-Type", "text/plain"}})
                 .status == 415);
  BOOST_TEST(Operator("POST", "/api/v1/syncs/app/sync",
                      {{"Host", host}, {"Authorization", "Bearer " + admin}, {"Content-Type", "application/json"}})
                 .status == 202);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.Log().find(admin) == std::string::npos);
}

// Runs `script` with sh in a network namespace of its own, its loopback up: port 8788 there is
// free whatever else runs on this host. nullopt when namespaces cannot be made here.
std::optional<CommandResult> InOwnNetwork(const std::string& script, const std::map<std::string, std::string>& env) {
  if (RunCommand({"unshare", "--net", "true"}).exit_code != 0) {
    BOOST_TEST_MESSAGE("cannot make a network namespace here (not root?): skipped");
    return std::nullopt;
  }
  return RunCommand({"unshare", "--net", "sh", "-c", "ip link set lo up || exit 90\n" + script}, env);
}

// Starts the daemon in the background of a script and waits for its status page on 8788.
std::string StartAndWaitFor8788(const std::string& binary, const std::string& cfg, const std::string& log) {
  return binary + " --config " + cfg + " run 2>" + log + " &\npid=$!\n"
         "for i in $(seq 200); do curl -s -o /dev/null http://127.0.0.1:8788/healthz && break; sleep 0.1; done\n";
}

BOOST_AUTO_TEST_CASE(without_an_operator_section_the_endpoints_are_served_on_loopback_8788) {
  WriteDaemonConfig("");
  std::string log = dir / "daemon.log";
  auto r = InOwnNetwork(StartAndWaitFor8788(binary, cfg, log) +
                            "curl -sS http://127.0.0.1:8788/api/v1/status; echo\n"
                            "curl -sS -o /dev/null -w 'rebound %{http_code}\\n' -H 'Host: evil.example' "
                            "http://127.0.0.1:8788/api/v1/status\n"
                            "kill -TERM $pid; wait $pid\n",
                        env);
  if (!r) return;
  BOOST_TEST(r->exit_code == 0, r->err);
  BOOST_TEST(r->out.find("\"app\"") != std::string::npos, r->out << r->err);
  BOOST_TEST(r->out.find("rebound 403") != std::string::npos, r->out);
  BOOST_TEST(ReadFile(log).find("operator endpoints on http://127.0.0.1:8788") != std::string::npos, ReadFile(log));
}

BOOST_AUTO_TEST_CASE(a_taken_default_operator_port_is_a_warning_but_a_configured_one_stops_the_start) {
  std::string log = dir / "daemon.log";
  // Something else holds 127.0.0.1:8788; the daemon syncs anyway and says how to move it.
  std::string hold = "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 8788)); s.listen(); "
                     "time.sleep(60)' &\nholder=$!\n"
                     "for i in $(seq 300); do ss -Hltn 'sport = :8788' | grep -q . && break; sleep 0.1; done\n";
  WriteDaemonConfig("");
  auto r = InOwnNetwork(hold + binary + " --config " + cfg + " run 2>" + log + " &\npid=$!\n"
                            "for i in $(seq 200); do grep -q 'gitsyncd running' " + log + " && break; sleep 0.1; done\n"
                            "kill -0 $pid && echo alive\nkill -TERM $pid; wait $pid\n"
                            "echo \"exit $?\"\nkill $holder\n",
                        env);
  if (!r) return;
  BOOST_TEST(r->out.find("alive") != std::string::npos, r->out << ReadFile(log));
  BOOST_TEST(r->out.find("exit 0") != std::string::npos, r->out);
  BOOST_TEST(ReadFile(log).find("/metrics and /api/v1 are not served: cannot listen on 127.0.0.1:8788") !=
                 std::string::npos,
             ReadFile(log));
  BOOST_TEST(ReadFile(log).find("set operator.listen in gitsyncd.yaml to a free ADDRESS:PORT, or to off") !=
                 std::string::npos);
  // Asked for by name, the same port is a failed start that names the setting.
  WriteDaemonConfig("operator:\n  listen: 127.0.0.1:8788\n");
  r = InOwnNetwork(hold + "timeout 30 " + binary + " --config " + cfg + " run\necho \"exit $?\"\nkill $holder\n", env);
  BOOST_TEST(r->out.find("exit 1") != std::string::npos, r->out << r->err);
  BOOST_TEST(r->err.find("operator.listen: cannot listen on 127.0.0.1:8788") != std::string::npos, r->err);
}

BOOST_AUTO_TEST_CASE(the_operator_socket_serves_its_owner_and_group_and_refuses_other_users) {
  // Folders others may traverse: only the socket's own mode keeps them out.
  std::string run = dir / "run", sock = run + "/operator.sock";
  std::filesystem::create_directories(run);
  for (const auto& d : {dir.path(), run}) ::chmod(d.c_str(), 0755);
  WriteDaemonConfig("operator:\n  listen: off\n  socket: " + sock + "\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  struct stat st{};
  BOOST_REQUIRE(::lstat(sock.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 07777) == 0660u);
  CommandResult status = RunCommand({"curl", "-sS", "--unix-socket", sock, "http://localhost/api/v1/status"});
  BOOST_TEST(status.exit_code == 0, status.err);
  BOOST_TEST(status.out.find("\"app\"") != std::string::npos, status.out);
  // The socket is no way around the operator checks.
  CommandResult rebound = RunCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
                                      "-H", "Host: evil.example", "http://localhost/api/v1/status"});
  BOOST_TEST(rebound.out == "403");
  CommandResult queued = RunCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
                                     "-XPOST", "-H", "Content-Type: application/json",
                                     "http://localhost/api/v1/syncs/app/sync"});
  BOOST_TEST(queued.out == "202");
  if (::geteuid() == 0) {
    CommandResult other = RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS",
                                      "--unix-socket", sock, "http://localhost/api/v1/status"});
    BOOST_TEST(other.exit_code == 7, other.out << other.err);  // curl: could not connect
    BOOST_TEST(other.out.find("app") == std::string::npos);
  }
  BOOST_TEST(daemon.Log().find("operator endpoints on http") == std::string::npos);  // listen: off
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(!std::filesystem::exists(std::filesystem::symlink_status(sock)));
}

BOOST_AUTO_TEST_CASE(an_operator_socket_path_held_by_another_file_is_left_alone) {
  std::string sock = dir / "operator.sock";
  WriteFile(sock, "not ours\n");
  WriteDaemonConfig("operator:\n  listen: off\n  socket: " + sock + "\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_TEST(daemon.Wait() == 1);
  BOOST_TEST(daemon.Log().find("operator.socket: " + sock + " exists and is not a socket") != std::string::npos,
             daemon.Log());
  BOOST_TEST(ReadFile(sock) == "not ours\n");
  WriteDaemonConfig("operator:\n  socket: run/operator.sock\n");
  CommandResult relative = RunCommand({binary, "--config", cfg, "check-config"}, env);
  BOOST_TEST(relative.exit_code == 1);
  BOOST_TEST(relative.err.find("operator.socket: must be an absolute file path") != std::string::npos, relative.err);
}

BOOST_AUTO_TEST_CASE(check_config_refuses_an_operator_listener_other_hosts_reach_without_tls_and_token) {
  WriteDaemonConfig("operator:\n  listen: 0.0.0.0:" + std::to_string(operator_port) + "\n");
  CommandResult open = RunCommand({binary, "--config", cfg, "check-config"}, env);
  BOOST_TEST(open.exit_code == 1);
  BOOST_TEST(open.err.find("operator.listen: 0.0.0.0 is reachable from other hosts: set operator.tls_cert, "
                           "operator.tls_key and operator.admin_token") != std::string::npos,
             open.err);
  WriteDaemonConfig("operator:\n  listen: localhost\n");
  CommandResult bad = RunCommand({binary, "--config", cfg, "check-config"}, env);
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err.find("operator.listen: 'localhost' is not ADDRESS:PORT") != std::string::npos, bad.err);
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nlisten:\n  admin_token: {env: X}\n");
  CommandResult moved = RunCommand({binary, "--config", cfg, "check-config"}, env);
  BOOST_TEST(moved.exit_code == 1);
  BOOST_TEST(moved.err.find("listen.admin_token: moved to operator.admin_token") != std::string::npos, moved.err);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

bool CanSwitchUsers() {
  if (::geteuid() == 0) return true;
  BOOST_TEST_MESSAGE("not root: cannot connect as another user; the peer check is not exercised");
  return false;
}

// Sends one control request from a child process running as `uid`; returns the answer or the error.
std::string AskAs(uid_t uid, const std::string& socket_path, const std::string& request) {
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
    auto r = gitsyncd::ControlRequest(socket_path, request);
    std::string text = r.ok() ? *r : "error: " + r.status().message();
    [[maybe_unused]] ssize_t n = ::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "the child could not become uid " << uid);
  return text;
}

}  // namespace

// The socket file is 0600, but a loosened mode (or a state directory shared with other users)
// must not hand the daemon to them: the server asks the kernel who connected.
BOOST_AUTO_TEST_CASE(control_socket_answers_only_its_own_uid_and_root) {
  if (!CanSwitchUsers()) return;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::string path = dir / "control.sock";
  auto server = gitsyncd::ControlServer::Start(path, [](const std::string& req) {
    return "{\"ok\":true,\"echo\":\"" + req + "\"}";
  });
  BOOST_REQUIRE(server.ok());
  ::chmod(path.c_str(), 0666);  // what an attacker hopes for

  BOOST_TEST(AskAs(0, path, "status") == "{\"ok\":true,\"echo\":\"status\"}");
  std::string nobody = AskAs(kNobody, path, "sync-now app");
  BOOST_TEST(nobody.find("refused: only the daemon's own user or root may use the control socket") != std::string::npos,
             nobody);
  BOOST_TEST(nobody.find("echo") == std::string::npos);
}

// A request that waits (a sync-now on a hung hook) holds back no other request; past 8 at
// once, a ninth client is told the daemon is busy instead of being left waiting.
BOOST_AUTO_TEST_CASE(control_requests_are_answered_side_by_side_and_a_ninth_is_told_busy) {
  TempDir dir;
  std::string path = dir / "control.sock";
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> waiting{0};
  auto server = gitsyncd::ControlServer::Start(path, [&](const std::string& req) {
    if (req == "wait") {
      ++waiting;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    return "{\"ok\":true,\"echo\":\"" + req + "\"}";
  });
  BOOST_REQUIRE(server.ok());
  std::vector<std::thread> slow;
  auto ask_wait = [&] { slow.emplace_back([&] { (void)gitsyncd::ControlRequest(path, "wait"); }); };
  ask_wait();
  BOOST_REQUIRE(WaitFor([&] { return waiting == 1; }));
  auto beside = gitsyncd::ControlRequest(path, "status");
  BOOST_TEST((beside.ok() && *beside == "{\"ok\":true,\"echo\":\"status\"}"), "one waiting request held back another");
  for (int i = 1; i < 8; ++i) ask_wait();
  BOOST_REQUIRE(WaitFor([&] { return waiting == 8; }));
  auto busy = gitsyncd::ControlRequest(path, "status");
  std::string said = busy.ok() ? *busy : busy.status().message();
  BOOST_TEST(said.find("answering 8 control requests already; try again") != std::string::npos, said);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : slow) t.join();
  auto after = gitsyncd::ControlRequest(path, "status");
  BOOST_TEST((after.ok() && *after == "{\"ok\":true,\"echo\":\"status\"}"));
}

// A daemon running as an unprivileged user answers that user (and root), no one else.
BOOST_AUTO_TEST_CASE(control_socket_of_an_unprivileged_daemon_answers_its_user) {
  if (!CanSwitchUsers()) return;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);
  std::string path = dir / "control.sock";
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  pid_t daemon = ::fork();
  if (daemon == 0) {
    ::close(ready[0]);
    if (::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0) ::_exit(2);
    auto server = gitsyncd::ControlServer::Start(path, [](const std::string&) { return std::string("{\"ok\":true}"); });
    if (!server.ok()) ::_exit(3);
    ::chmod(path.c_str(), 0666);
    [[maybe_unused]] ssize_t n = ::write(ready[1], "r", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  BOOST_REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  BOOST_TEST(AskAs(kNobody, path, "status") == "{\"ok\":true}");
  BOOST_TEST(AskAs(0, path, "status") == "{\"ok\":true}");
  BOOST_TEST(AskAs(kNobody - 1, path, "status").find("refused") != std::string::npos);
  ::kill(daemon, SIGKILL);
  ::waitpid(daemon, nullptr, 0);
}
