#include "tests/support/git_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/git_cli.h"

namespace gitsyncd::testing {
namespace {

namespace fs = std::filesystem;

void MustRun(const std::vector<std::string>& argv, const std::string& cwd = "") {
  CommandResult r = RunCommand(argv, {}, "", cwd);
  if (r.exit_code != 0) throw std::runtime_error("test server setup failed: " + argv[0] + "\n" + r.out + r.err);
}

std::string CurrentUser() {
  passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string SafeLog(const std::string& file) { return FileExists(file) ? ReadFile(file) : "(no log)"; }

// The processes whose parent is `parent` (from /proc/<pid>/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_file) {
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  Stop();
  pid_ = o.pid_;
  o.pid_ = -1;
  return *this;
}

ChildProcess::~ChildProcess() { Stop(); }

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);  // stray children of the group
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

void WaitForPort(int port, const std::string& what, const std::string& log_file, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error(what + " did not start on port " + std::to_string(port) + ":\n" + SafeLog(log_file));
}

int WaitForPortFile(const std::string& port_file, const std::string& what, const std::string& log_file,
                    int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(port_file)) return std::stoi(ReadFile(port_file));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error(what + " did not start:\n" + SafeLog(log_file));
}

// ---- HTTPS ----

void InstallServerHook(const std::string& bare, const std::string& name, const std::string& script) {
  std::string path = bare + "/hooks/" + name;
  WriteFile(path, script);
  if (::chmod(path.c_str(), 0755) != 0) throw std::runtime_error("cannot make " + path + " executable");
}

std::string MakeTestCertificates(const std::string& d) {
  // A CA and a server certificate for 127.0.0.1/localhost, made for this test only.
  MustRun({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=gitsyncd test CA"});
  MustRun({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=localhost"});
  WriteFile(d + "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  MustRun({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
           "-CAcreateserial", "-out", d + "/server.pem", "-days", "2", "-extfile", d + "/ext.cnf"});
  return d + "/ca.pem";
}

// ---- GitHub REST API ----

ProviderApiServer::ProviderApiServer(std::string token, const std::map<std::string, std::string>& repos,
                                 const char* scopes)
    : token_(std::move(token)) {
  std::string d = dir_.path();
  ca_file_ = MakeTestCertificates(d);
  std::vector<std::string> argv{"python3", TestDataDir() + "/support/provider_api_server.py",
                                "--port", "0", "--port-file", d + "/port", "--cert", d + "/server.pem", "--key",
                                d + "/server.key", "--token", token_};
  if (scopes) {
    argv.push_back("--scopes");
    argv.push_back(scopes);
  }
  for (const auto& [name, path] : repos) {
    argv.push_back("--repo");
    argv.push_back(name + "=" + path);
  }
  server_ = ChildProcess(argv, d + "/server.log");
  port_ = WaitForPortFile(d + "/port", "GitHub API test server", d + "/server.log");
}

ProviderApiServer::~ProviderApiServer() = default;

std::string ProviderApiServer::api_url() const { return "https://localhost:" + std::to_string(port_) + "/api/v3"; }
std::string ProviderApiServer::azure_api_url(const std::string& org, const std::string& project) const {
  return "https://localhost:" + std::to_string(port_) + "/azure/" + org + "/" + project;
}
std::string ProviderApiServer::bitbucket_cloud_url() const {
  return "https://localhost:" + std::to_string(port_) + "/bbc";
}
std::string ProviderApiServer::bitbucket_server_url() const {
  return "https://localhost:" + std::to_string(port_) + "/bbs";
}
std::string ProviderApiServer::gitlab_api_url() const { return "https://localhost:" + std::to_string(port_) + "/api/v4"; }

std::string ProviderApiServer::Call(const std::string& method, const std::string& path, const std::string& body) const {
  std::vector<std::string> argv{"curl", "-sS", "--cacert", ca_file_, "-X", method};
  if (!body.empty()) {
    argv.push_back("-d");
    argv.push_back(body);
  }
  argv.push_back("https://localhost:" + std::to_string(port_) + path);
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error("GitHub API test server: " + r.err);
  return r.out;
}

void ProviderApiServer::Control(const std::string& json) const { Call("POST", "/__control", json); }
std::string ProviderApiServer::Stats() const { return Call("GET", "/__stats", ""); }
std::string ProviderApiServer::AdminState() const { return Call("GET", "/__admin", ""); }

GitHttpsServer::GitHttpsServer(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {
  std::string d = dir_.path();
  fs::create_directories(d + "/repos");
  fs::create_directories(d + "/tmp");
  ca_file_ = MakeTestCertificates(d);
  CommandResult hash = RunCommand({"openssl", "passwd", "-apr1", password_});
  WriteFile(d + "/htpasswd", user_ + ":" + Trim(hash.out) + "\n");
  port_ = FreePort();
  WriteConfig();
  Start();
}

void GitHttpsServer::WriteConfig() {
  std::string d = dir_.path();
  std::string conf;
  if (::geteuid() == 0) conf += "user root;\n";
  conf += "worker_processes 1;\ndaemon off;\npid " + d + "/nginx.pid;\nerror_log " + d + "/error.log info;\n";
  conf += "events { worker_connections 64; }\n";
  conf += "http {\n  map $http_authorization $sent_credentials { \"\" \"-\"; default \"credentials\"; }\n";
  conf += "  log_format timed '$msec $request_time \"$request\" $status \"$http_user_agent\" $sent_credentials "
          "$body_bytes_sent $connection $connection_requests $ssl_session_reused $ssl_protocol';\n";
  conf += "  access_log " + d + "/access.log timed;\n";
  for (const char* t : {"client_body", "fastcgi", "proxy", "uwsgi", "scgi"}) {
    conf += std::string("  ") + t + "_temp_path " + d + "/tmp/" + t + ";\n";
  }
  conf += "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + " ssl;\n";
  conf += "    ssl_certificate " + d + "/server.pem;\n    ssl_certificate_key " + d + "/server.key;\n";
  // As production servers are set up: TLS 1.3 (nginx 1.22 defaults to 1.2 at most), and sessions
  // resumable by ticket or by id for 5 minutes.
  conf += "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache shared:SSL:1m;\n    ssl_session_timeout 5m;\n";
  conf += "    client_max_body_size 0;\n";
  for (const auto& [repo, to] : redirects_) {
    conf += "    location ~ ^/git/" + repo + "\\.git(/.*)$ {\n      return 302 " + to + "$1$is_args$args;\n    }\n";
  }
  conf += "    location ~ ^/git(/.*)$ {\n";
  conf += "      auth_basic \"git\";\n      auth_basic_user_file " + d + "/htpasswd;\n";
  conf += "      include /etc/nginx/fastcgi_params;\n";
  conf += "      fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;\n";
  conf += "      fastcgi_param GIT_PROJECT_ROOT " + d + "/repos;\n";
  conf += "      fastcgi_param GIT_HTTP_EXPORT_ALL \"\";\n";
  conf += "      fastcgi_param REMOTE_USER $remote_user;\n";
  conf += "      fastcgi_param PATH_INFO $1;\n";
  conf += "      fastcgi_pass unix:" + d + "/fcgi.sock;\n    }\n  }\n}\n";
  WriteFile(d + "/nginx.conf", conf);
}

GitHttpsServer::~GitHttpsServer() { Stop(); }

void GitHttpsServer::RedirectRepo(const std::string& repo, const std::string& to) {
  redirects_.emplace_back(repo, to);
  WriteConfig();
  Stop();
  Start();
}

void GitHttpsServer::Start() {
  std::string d = dir_.path();
  ::unlink((d + "/fcgi.sock").c_str());
  fcgiwrap_ = ChildProcess({"fcgiwrap", "-c", "4", "-s", "unix:" + d + "/fcgi.sock"}, d + "/fcgiwrap.log");
  for (int i = 0; i < 200 && !FileExists(d + "/fcgi.sock"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::chmod((d + "/fcgi.sock").c_str(), 0666);
  nginx_ = ChildProcess({"nginx", "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"}, d + "/nginx.out");
  WaitForPort(port_, "nginx", d + "/error.log");
}

void GitHttpsServer::Stop() {
  nginx_.Stop();
  fcgiwrap_.Stop();
}

std::string GitHttpsServer::url(const std::string& repo) const {
  // "localhost", not the IP: mbedTLS 2.28 (libgit2's TLS on Debian 12) matches DNS names only.
  return "https://localhost:" + std::to_string(port_) + "/git/" + repo + ".git";
}

std::string GitHttpsServer::url_with_credentials(const std::string& repo) const {
  return "https://" + user_ + ":" + password_ + "@localhost:" + std::to_string(port_) + "/git/" + repo + ".git";
}

std::string GitHttpsServer::repo_path(const std::string& repo) const { return dir_.path() + "/repos/" + repo + ".git"; }

void GitHttpsServer::CreateBareRepo(const std::string& repo, const std::string& branch) {
  InitBareRepo(repo_path(repo), branch);
  Git({"--git-dir", repo_path(repo), "config", "http.receivepack", "true"});
}

std::map<std::string, std::string> GitHttpsServer::git_env() const { return {{"GIT_SSL_CAINFO", ca_file_}}; }

// ---- SSH ----

GitSshServer::GitSshServer(bool allow_rsa_sha1) : user_(CurrentUser()) {
  std::string d = dir_.path();
  MustRun({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/host_key"});
  MustRun({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gitsyncd-test", "-f", d + "/client_key"});
  fs::copy_file(d + "/client_key.pub", d + "/authorized_keys");
  ::chmod((d + "/authorized_keys").c_str(), 0600);
  if (::geteuid() == 0) fs::create_directories("/run/sshd");
  port_ = FreePort();
  std::string conf = "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + d + "/host_key\n";
  conf += "PidFile " + d + "/sshd.pid\nAuthorizedKeysFile " + d + "/authorized_keys\n";
  conf += "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n";
  conf += "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers " + user_ + "\n";
  conf += "LogLevel VERBOSE\n";
  // sshd runs each command through the user's login shell; bash reads ~/.bashrc when sshd
  // starts it at shell level 1, which costs seconds on a machine whose .bashrc sets up tools
  // (pyenv). A Git server's account has git-shell; at level 2 bash skips it, as git-shell would.
  // Git's trace of each command it runs for a client (trace2_events()): the server's own time.
  conf += "SetEnv SHLVL=1 GIT_TRACE2_EVENT=" + d + "/trace2.json\n";
  if (allow_rsa_sha1) conf += "PubkeyAcceptedAlgorithms +ssh-rsa\n";
  WriteFile(d + "/sshd_config", conf);
  std::string host_pub = Trim(ReadFile(d + "/host_key.pub"));
  host_pub = host_pub.substr(0, host_pub.rfind(' '));  // drop the comment
  known_hosts_ = d + "/known_hosts";
  WriteFile(known_hosts_, "[127.0.0.1]:" + std::to_string(port_) + " " + host_pub + "\n");
  Start();
}

void GitSshServer::Start() {
  std::string d = dir_.path();
  sshd_ = ChildProcess({"/usr/sbin/sshd", "-D", "-e", "-f", d + "/sshd_config"}, d + "/sshd.log");
  WaitForPort(port_, "sshd", d + "/sshd.log");
}

// sshd serves each connection in a process of its own session (setsid): those are stopped
// too, as when the machine restarts.
void GitSshServer::Stop() {
  std::vector<pid_t> connections = sshd_.running() ? ChildrenOf(sshd_.pid()) : std::vector<pid_t>();
  sshd_.Stop();
  for (pid_t c : connections) {
    ::kill(-c, SIGKILL);
    ::kill(c, SIGKILL);
  }
}

void GitSshServer::Signal(int signal) {
  if (!sshd_.running()) return;
  for (pid_t c : ChildrenOf(sshd_.pid())) {
    ::kill(-c, signal);
    ::kill(c, signal);
  }
  ::kill(-sshd_.pid(), signal);
}

void GitSshServer::ReplaceHostKey() {
  std::string d = dir_.path();
  fs::remove(d + "/host_key");
  fs::remove(d + "/host_key.pub");
  MustRun({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/host_key"});
}

std::string GitSshServer::log() const { return SafeLog(dir_.path() + "/sshd.log"); }

int GitSshServer::logins() const {
  std::string text = log();
  int n = 0;
  for (size_t at = text.find("Accepted publickey for "); at != std::string::npos;
       at = text.find("Accepted publickey for ", at + 1)) {
    ++n;
  }
  return n;
}

std::string GitSshServer::trace2_events() const {
  std::string path = dir_.path() + "/trace2.json";
  return FileExists(path) ? ReadFile(path) : "";
}

GitSshServer::~GitSshServer() {
  Signal(SIGCONT);
  Stop();
}

std::string GitSshServer::repo_path(const std::string& repo) const { return dir_.path() + "/repos/" + repo + ".git"; }

std::string GitSshServer::url(const std::string& repo) const {
  return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + repo_path(repo);
}

void GitSshServer::CreateBareRepo(const std::string& repo, const std::string& branch) {
  InitBareRepo(repo_path(repo), branch);
}

std::string GitSshServer::client_private_key() const { return ReadFile(dir_.path() + "/client_key"); }

std::string GitSshServer::AddClientKey(const std::string& type) {
  std::string d = dir_.path();
  std::string path = d + "/extra_" + type;
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-t", type, "-N", "", "-f", path};
  if (type == "rsa") argv = {"ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", path};
  MustRun(argv);
  WriteFile(d + "/authorized_keys", ReadFile(d + "/authorized_keys") + ReadFile(path + ".pub"));
  return ReadFile(path);
}

std::map<std::string, std::string> GitSshServer::git_env() const {
  return {{"GIT_SSH_COMMAND", "ssh -i " + dir_.path() + "/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile=" +
                                  known_hosts_ + " -o StrictHostKeyChecking=yes -o BatchMode=yes"}};
}

}  // namespace gitsyncd::testing
