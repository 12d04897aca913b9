// Real Git servers for tests, started on 127.0.0.1 on free ports and stopped at scope end:
//  - GitHttpsServer: nginx + fcgiwrap + `git http-backend`, TLS with a CA made for the test,
//    HTTP basic auth.
//  - GitSshServer: OpenSSH sshd with an ed25519 host key and key-only login.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

// A child process in its own process group, killed (whole group) on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_file);
  ~ChildProcess();
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  void Stop();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

int FreePort();
// Waits until 127.0.0.1:port accepts connections (bounded); throws with `log` on timeout.
void WaitForPort(int port, const std::string& what, const std::string& log_file, int timeout_ms = 10000);
// The port a server that picks its own (bound to port 0, so no other process can take it
// between a choice and the bind) wrote to `port_file` once listening.
int WaitForPortFile(const std::string& port_file, const std::string& what, const std::string& log_file,
                    int timeout_ms = 10000);

class GitHttpsServer {
 public:
  GitHttpsServer(std::string user = "alice", std::string password = "s3cret-pass");
  ~GitHttpsServer();
  std::string url(const std::string& repo) const;  // https://127.0.0.1:<port>/git/<repo>.git
  const std::string& ca_file() const { return ca_file_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  std::string repo_path(const std::string& repo) const;  // the bare repository on disk
  void CreateBareRepo(const std::string& repo, const std::string& branch = "main");
  // Environment for the git CLI to talk to this server (CA + credentials in the URL helper).
  std::map<std::string, std::string> git_env() const;
  std::string url_with_credentials(const std::string& repo) const;
  void Stop();   // simulate the remote going down
  void Start();  // and coming back on the same port
  int port() const { return port_; }
  // nginx's access log: "<unix time> <request seconds> \"<request>\" <status> \"<user agent>\"
  // <credentials> <bytes> <connection> <request on it> <resumed> <TLS version>" lines, where
  // <credentials> is "credentials" when the request carried an Authorization header, else "-";
  // <connection> numbers TCP connections, <request on it> counts from 1, <resumed> is "r" when
  // the TLS session was resumed, else "." (a full handshake).
  std::string access_log() const { return ReadFile(dir_.path() + "/access.log"); }
  // From now on every request for `repo` (/git/<repo>.git/...) is answered with a 302 to `to`
  // (a repository URL) followed by the rest of the path, without asking for credentials.
  // Restarts nginx on the same port.
  void RedirectRepo(const std::string& repo, const std::string& to);

 private:
  void WriteConfig();
  TempDir dir_;
  std::string user_, password_, ca_file_;
  int port_ = 0;
  std::vector<std::pair<std::string, std::string>> redirects_;
  ChildProcess fcgiwrap_, nginx_;
};

// Writes ca.pem/ca.key and server.pem/server.key (localhost, 127.0.0.1) into `dir`;
// returns the CA file.
std::string MakeTestCertificates(const std::string& dir);

// Installs an executable server-side hook (`pre-receive`, `update`, ...) with `script` as its
// text in the bare repository `bare`: it runs for every push, over HTTPS, SSH or file://.
void InstallServerHook(const std::string& bare, const std::string& name, const std::string& script);

// tests/support/provider_api_server.py: real bare repositories served through providers'
// documented REST API shapes over TLS (GitHub at /api/v3, as GitHub Enterprise's api.url;
// GitLab at /api/v4), with token auth and fault injection (see the script).
class ProviderApiServer {
 public:
  // `repos`: "owner/name" -> path of a bare repository.
  // `scopes`: the X-OAuth-Scopes a classic token reports; nullptr = a fine-grained token.
  ProviderApiServer(std::string token, const std::map<std::string, std::string>& repos, const char* scopes = nullptr);
  ~ProviderApiServer();
  std::string api_url() const;         // GitHub: https://localhost:<port>/api/v3
  std::string gitlab_api_url() const;  // GitLab: https://localhost:<port>/api/v4
  std::string bitbucket_server_url() const;  // Bitbucket Server base: https://localhost:<port>/bbs
  std::string bitbucket_cloud_url() const;   // Bitbucket Cloud API base: https://localhost:<port>/bbc
  // Azure Repos: https://localhost:<port>/azure/<org>/<project> (repos matched by name)
  std::string azure_api_url(const std::string& org, const std::string& project) const;
  const std::string& ca_file() const { return ca_file_; }
  void Control(const std::string& json) const;  // POST /__control
  std::string Stats() const;                    // GET /__stats (JSON)
  // GET /__admin: every provider's stored hooks (secrets included) and posted statuses (JSON).
  std::string AdminState() const;

 private:
  std::string Call(const std::string& method, const std::string& path, const std::string& body) const;
  TempDir dir_;
  std::string token_, ca_file_;
  int port_ = 0;
  ChildProcess server_;
};

class GitSshServer {
 public:
  // `allow_rsa_sha1`: add `PubkeyAcceptedAlgorithms +ssh-rsa` (libssh2 1.10 signs RSA with SHA-1 only).
  explicit GitSshServer(bool allow_rsa_sha1 = false);
  ~GitSshServer();
  std::string url(const std::string& repo) const;  // ssh://<user>@127.0.0.1:<port><path>
  std::string repo_path(const std::string& repo) const;
  void CreateBareRepo(const std::string& repo, const std::string& branch = "main");
  const std::string& known_hosts_file() const { return known_hosts_; }
  std::string client_private_key() const;  // ed25519, OpenSSH format
  // Makes an extra client key of `type` ("rsa", "ed25519") authorized; returns its private key.
  std::string AddClientKey(const std::string& type);
  std::map<std::string, std::string> git_env() const;  // GIT_SSH_COMMAND with our key + known_hosts
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  std::string dir() const { return dir_.path(); }
  // Stops sshd and kills every connection it serves; Start brings it back on the same port.
  void Stop();
  void Start();
  // Sends `signal` to sshd and its connections' processes (SIGSTOP: a stalled server).
  void Signal(int signal);
  // A new host key for the next Start (known_hosts_file() keeps the old one: an impostor).
  void ReplaceHostKey();
  std::string log() const;  // sshd's log (LogLevel VERBOSE)
  int logins() const;       // "Accepted publickey" lines in it: one per SSH connection
  // GIT_TRACE2_EVENT of the git commands sshd ran (tests/support/git_trace2.h reads it).
  std::string trace2_events() const;
 private:
  TempDir dir_;
  std::string user_, known_hosts_;
  int port_ = 0;
  ChildProcess sshd_;
};

}  // namespace gitsyncd::testing
