// Sync over real servers on loopback: nginx + fcgiwrap + git http-backend over TLS with basic
// auth, and OpenSSH sshd with key auth and known_hosts checking.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <thread>

#include "sync/connection_check.h"
#include "sync/socket_stream.h"
#include "sync/ssh_session_pool.h"
#include "tests/support/git_servers.h"
#include "tests/support/wait_for.h"
#include "tests/sync/sync_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct HttpsFixture : SyncFixture {
  GitHttpsServer server;
  HttpsFixture() : SyncFixture("") {
    server.CreateBareRepo("cfg");
    spec.remote.url = server.url("cfg");
    spec.remote.username = server.user();
    spec.remote.password = server.password();
    BOOST_REQUIRE(ConfigureTls(server.ca_file()).ok());
  }
  GitClone HttpsPerson(const std::string& name = "person") {
    return GitClone(server.url_with_credentials("cfg"), dir / name, "main", server.git_env());
  }
};

struct SshFixture : SyncFixture {
  GitSshServer server;
  explicit SshFixture(bool allow_rsa = false) : SyncFixture(""), server(allow_rsa) {
    server.CreateBareRepo("cfg");
    spec.remote.url = server.url("cfg");
    spec.remote.username = server.user();
    spec.remote.ssh_private_key = server.client_private_key();
    spec.remote.known_hosts_file = server.known_hosts_file();
  }
  GitClone SshPerson(const std::string& name = "person") {
    return GitClone(server.url("cfg"), dir / name, "main", server.git_env());
  }
};

struct SshRsaFixture : SshFixture {
  SshRsaFixture() : SshFixture(true) {}
};

// A remote with history, seeded on the server's disk (the git CLI over SSH would log in too).
struct SshReuseFixture : SshFixture {
  SshReuseFixture() {
    GitClone seed("file://" + server.repo_path("cfg"), dir / "seed");
    seed.Write("a.txt", "seed\n");
    BOOST_REQUIRE(seed.CommitAndPush("seed"));
  }
  ~SshReuseFixture() {
    SetSocketStreamOptions({});
    SetSshPoolLimits({});
  }
  std::string OnServer(const std::string& rel) { return ShowFile(server.repo_path("cfg"), "main", rel); }
  std::string where() const { return "127.0.0.1:" + std::to_string(server.port()); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(transport)

BOOST_FIXTURE_TEST_CASE(https_with_basic_auth_syncs_both_ways, HttpsFixture) {
  GitClone p = HttpsPerson();
  p.Write("app.yaml", "replicas: 2\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  Sync();
  BOOST_TEST(Local("app.yaml") == "replicas: 2\n");
  WriteLocal("app.yaml", "replicas: 3\n");
  Sync();
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "app.yaml") == "replicas: 3\n");
}

BOOST_FIXTURE_TEST_CASE(https_wrong_password_is_reported_as_such, HttpsFixture) {
  spec.remote.password = "wrong";
  WriteLocal("a.txt", "x\n");
  Status s = SyncStatus();
  BOOST_TEST((s.code() == Status::Code::kPermissionDenied), s.message());
  BOOST_TEST(s.message().find("authentication failed for user 'alice' at localhost") != std::string::npos, s.message());
}

BOOST_FIXTURE_TEST_CASE(https_connection_check_verdicts, HttpsFixture) {
  WriteLocal("a.txt", "x\n");
  Sync();
  auto ok = CheckConnection(spec.remote, "main");
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.status().message());
  BOOST_TEST(ok->branch_head.size() == 40u);
  auto no_branch = CheckConnection(spec.remote, "release");
  BOOST_TEST(no_branch.status().message() == "no such branch 'release' at " + spec.remote.url + " (it has: main)");
  RemoteCredentials missing = spec.remote;
  missing.url = server.url("nope");
  auto no_repo = CheckConnection(missing, "main");
  BOOST_TEST((no_repo.status().code() == Status::Code::kNotFound), no_repo.status().message());
  BOOST_TEST(no_repo.status().message().find("no such repository at " + missing.url) != std::string::npos,
             no_repo.status().message());
  RemoteCredentials refused = spec.remote;
  refused.url = "https://localhost:" + std::to_string(FreePort()) + "/git/cfg.git";
  auto down = CheckConnection(refused, "main");
  BOOST_TEST((down.status().code() == Status::Code::kUnavailable), down.status().message());
}

BOOST_FIXTURE_TEST_CASE(https_certificate_from_an_unknown_ca_is_refused, HttpsFixture) {
  BOOST_REQUIRE(ConfigureTls("").ok());
  auto r = CheckConnection(spec.remote, "main");
  BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied), r.status().message());
  BOOST_TEST(r.status().message().find("TLS certificate of localhost could not be verified") != std::string::npos,
             r.status().message());
  BOOST_REQUIRE(ConfigureTls(server.ca_file()).ok());
}

BOOST_FIXTURE_TEST_CASE(https_certificate_for_another_host_name_is_refused, HttpsFixture) {
  // "127.1" reaches 127.0.0.1, but it is not a name the certificate (localhost, IP 127.0.0.1)
  // was issued for.
  RemoteCredentials other = spec.remote;
  other.url = "https://127.1:" + std::to_string(server.port()) + "/git/cfg.git";
  auto r = CheckConnection(other, "main");
  BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied), r.status().message());
  BOOST_TEST(r.status().message().find("TLS certificate of 127.1 could not be verified") != std::string::npos,
             r.status().message());
}

BOOST_FIXTURE_TEST_CASE(https_remote_named_by_ip_address_is_checked_against_its_ip_san, HttpsFixture) {
  RemoteCredentials by_ip = spec.remote;
  by_ip.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/git/cfg.git";
  spec.remote = by_ip;
  WriteFile(spec.local + "/by-ip.yaml", "ok: true\n");
  auto pass = RunSyncPass(spec);
  BOOST_REQUIRE_MESSAGE(pass.ok(), pass.status().message());
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "by-ip.yaml") == "ok: true\n");
  auto r = CheckConnection(by_ip, "main");
  BOOST_TEST(r.ok(), r.status().message());
}

// A remote that accepts the connection and then never says a word (a hung proxy, a black
// hole) must fail the pass after the I/O timeout instead of holding a worker forever.
BOOST_FIXTURE_TEST_CASE(a_silent_remote_times_out_instead_of_hanging, HttpsFixture) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(listener, 8) == 0);  // the kernel completes connections; nobody answers
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  SetSocketStreamOptions({std::chrono::seconds(5), std::chrono::seconds(1)});
  RemoteCredentials silent = spec.remote;
  silent.url = "https://localhost:" + port + "/git/cfg.git";
  auto start = std::chrono::steady_clock::now();
  auto r = CheckConnection(silent, "main");
  auto took = std::chrono::steady_clock::now() - start;
  SetSocketStreamOptions({});
  ::close(listener);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.status().code() == Status::Code::kUnavailable), r.status().message());
  BOOST_TEST(r.status().message().find("no data from localhost:" + port + " for 1 s") != std::string::npos,
             r.status().message());
  BOOST_TEST((took < std::chrono::seconds(4)));
}

BOOST_FIXTURE_TEST_CASE(https_remote_down_then_back_pushes_the_queued_edit, HttpsFixture) {
  WriteLocal("a.txt", "first\n");
  Sync();
  server.Stop();
  WriteLocal("a.txt", "edited while the remote was down\n");
  Status s = SyncStatus();
  BOOST_TEST((s.code() == Status::Code::kUnavailable), s.message());
  server.Start();
  Sync();
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "a.txt") == "edited while the remote was down\n");
}

BOOST_FIXTURE_TEST_CASE(ssh_ed25519_with_known_hosts_syncs_both_ways, SshFixture) {
  GitClone p = SshPerson();
  p.Write("svc.yaml", "port: 80\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  Sync();
  BOOST_TEST(Local("svc.yaml") == "port: 80\n");
  WriteLocal("svc.yaml", "port: 8080\n");
  Sync();
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "svc.yaml") == "port: 8080\n");
}

BOOST_FIXTURE_TEST_CASE(ssh_unknown_host_key_is_refused, SshFixture) {
  WriteFile(dir / "other_known_hosts", "[example.com]:22 " + ReadFile(server.dir() + "/host_key.pub"));
  spec.remote.known_hosts_file = dir / "other_known_hosts";
  auto r = CheckConnection(spec.remote, "main");
  std::string m = r.status().message();
  BOOST_TEST(m.find("unknown SSH host key for [127.0.0.1]:" + std::to_string(server.port()) + " (ssh-ed25519 SHA256:") !=
                 std::string::npos, m);
  BOOST_TEST(m.find("): not in " + (dir / "other_known_hosts")) != std::string::npos, m);
}

BOOST_FIXTURE_TEST_CASE(ssh_changed_host_key_is_refused, SshFixture) {
  RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir / "impostor"});
  std::string pub = ReadFile(dir / "impostor.pub");
  WriteFile(dir / "changed_known_hosts", "[127.0.0.1]:" + std::to_string(server.port()) + " " + pub);
  spec.remote.known_hosts_file = dir / "changed_known_hosts";
  auto r = CheckConnection(spec.remote, "main");
  BOOST_TEST(r.status().message().find("SSH host key for [127.0.0.1]:" + std::to_string(server.port()) + " CHANGED") !=
                 std::string::npos, r.status().message());
}

// The attacker appends the key to a shared known_hosts, or the operator revokes a stolen
// key below the line that once trusted it: @revoked wins wherever it stands.
BOOST_FIXTURE_TEST_CASE(ssh_host_key_revoked_below_its_trusted_line_is_refused, SshFixture) {
  GitClone p = SshPerson();
  p.Write("a.txt", "a\n");
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  std::string host = "[127.0.0.1]:" + std::to_string(server.port());
  std::string pub = ReadFile(server.dir() + "/host_key.pub");
  WriteFile(dir / "revoked_known_hosts", host + " " + pub + "@revoked " + host + " " + pub);
  spec.remote.known_hosts_file = dir / "revoked_known_hosts";
  auto r = CheckConnection(spec.remote, "main");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("SSH host key for " + host + " is marked @revoked in " +
                                       (dir / "revoked_known_hosts")) != std::string::npos,
             r.status().message());
  // Without the @revoked line the same file is accepted: the refusal came from that line.
  WriteFile(dir / "revoked_known_hosts", host + " " + pub);
  auto ok = CheckConnection(spec.remote, "main");
  BOOST_TEST(ok.ok(), ok.status().message());
}

BOOST_FIXTURE_TEST_CASE(ssh_cert_authority_line_is_refused_with_a_clear_message, SshFixture) {
  RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir / "host_ca"});
  std::string host = "[127.0.0.1]:" + std::to_string(server.port());
  WriteFile(dir / "ca_known_hosts", "# our CA\n@cert-authority " + host + " " + ReadFile(dir / "host_ca.pub"));
  spec.remote.known_hosts_file = dir / "ca_known_hosts";
  auto r = CheckConnection(spec.remote, "main");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied), r.status().message());
  BOOST_TEST(r.status().message().find((dir / "ca_known_hosts") + " line 2: @cert-authority (SSH host certificates) is "
                                       "not supported; list the host's own key for " + host + " instead") !=
                 std::string::npos,
             r.status().message());
}

BOOST_FIXTURE_TEST_CASE(ssh_rsa_key_fails_against_a_default_openssh_server, SshFixture) {
  spec.remote.ssh_private_key = server.AddClientKey("rsa");
  auto r = CheckConnection(spec.remote, "main");
  BOOST_TEST((r.status().code() == Status::Code::kPermissionDenied), r.status().message());
}

BOOST_FIXTURE_TEST_CASE(ssh_rsa_key_works_when_the_server_allows_ssh_rsa, SshRsaFixture) {
  spec.remote.ssh_private_key = server.AddClientKey("rsa");
  WriteLocal("rsa.txt", "via rsa\n");
  Sync();
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "rsa.txt") == "via rsa\n");
}

// Issue 17: a pass over SSH reuses the session (key exchange and login) of the one before.
BOOST_FIXTURE_TEST_CASE(ssh_passes_of_two_bindings_share_one_session, SshReuseFixture) {
  BindingSpec other = spec;
  other.name = "other";
  other.local = dir / "other";
  other.binding_dir = dir / "state/bindings/other";
  for (int i = 0; i < 4; ++i) {
    WriteLocal("n.txt", std::to_string(i) + "\n");
    Sync();
    BOOST_REQUIRE(OnServer("n.txt") == std::to_string(i) + "\n");
    auto r = RunSyncPass(other);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  }
  BOOST_TEST(ReadFile(other.local + "/n.txt") == "3\n");
  BOOST_TEST(server.logins() == 1, server.log());
}

BOOST_FIXTURE_TEST_CASE(ssh_concurrent_passes_each_get_a_session_of_their_own, SshReuseFixture) {
  std::vector<BindingSpec> specs;
  for (int b = 0; b < 2; ++b) {
    BindingSpec s = spec;
    s.name = "b" + std::to_string(b);
    s.path = s.name;  // each binding writes its own folder of the remote
    s.local = dir / s.name;
    s.binding_dir = dir / ("state/bindings/" + s.name);
    specs.push_back(s);
  }
  std::vector<std::string> failures(2);
  std::vector<std::thread> workers;
  for (int b = 0; b < 2; ++b) {
    workers.emplace_back([&, b] {
      for (int i = 0; i < 5 && failures[b].empty(); ++i) {
        WriteFile(specs[b].local + "/f.txt", std::to_string(i) + "\n");
        // Both push to one branch: a pass that lost the race is run again, as the engine does.
        Result<PassOutcome> r = Status::Conflict("not run");
        for (int tries = 0; tries < 10 && !r.ok() && r.status().code() == Status::Code::kConflict; ++tries) {
          r = RunSyncPass(specs[b]);
        }
        if (!r.ok()) failures[b] = r.status().message();
      }
    });
  }
  for (auto& w : workers) w.join();
  BOOST_TEST(failures[0] == "");
  BOOST_TEST(failures[1] == "");
  BOOST_TEST(OnServer("b0/f.txt") == "4\n");
  BOOST_TEST(OnServer("b1/f.txt") == "4\n");
  BOOST_TEST(server.logins() <= 2, server.log());
}

BOOST_FIXTURE_TEST_CASE(ssh_restarted_server_gets_a_new_session_and_the_pass_succeeds, SshReuseFixture) {
  Sync();
  BOOST_REQUIRE(server.logins() == 1);
  server.Stop();  // the pooled session's connection dies with it
  server.Start();
  WriteLocal("after.txt", "after the restart\n");
  Sync();
  BOOST_TEST(OnServer("after.txt") == "after the restart\n");
  BOOST_TEST(server.logins() == 2, server.log());
}

BOOST_FIXTURE_TEST_CASE(ssh_restarted_server_with_another_host_key_is_refused, SshReuseFixture) {
  Sync();
  server.Stop();
  server.ReplaceHostKey();
  server.Start();
  WriteLocal("after.txt", "must not arrive\n");
  Status s = SyncStatus();
  BOOST_TEST((s.code() == Status::Code::kPermissionDenied), s.message());
  BOOST_TEST(s.message().find("SSH host key for [" + where().replace(where().find(':'), 1, "]:") + " CHANGED") !=
                 std::string::npos, s.message());
  BOOST_TEST(server.logins() == 1, server.log());  // never logged in to the impostor
  bool found = true;
  ShowFile(server.repo_path("cfg"), "main", "after.txt", &found);
  BOOST_TEST(!found);
}

// The host key of a pooled session is checked again on every use: revoking it in known_hosts
// takes effect at the next pass, without waiting for the session to close.
BOOST_FIXTURE_TEST_CASE(ssh_host_key_revoked_while_a_session_is_pooled_is_refused_at_the_next_pass, SshReuseFixture) {
  Sync();
  std::string host = "[127.0.0.1]:" + std::to_string(server.port());
  std::string pub = ReadFile(server.dir() + "/host_key.pub");
  WriteFile(server.known_hosts_file(), ReadFile(server.known_hosts_file()) + "@revoked " + host + " " + pub);
  Status s = SyncStatus();
  BOOST_TEST(s.message().find("SSH host key for " + host + " is marked @revoked") != std::string::npos, s.message());
  BOOST_TEST(server.logins() == 1, server.log());
}

BOOST_FIXTURE_TEST_CASE(ssh_stalled_server_fails_the_pass_within_the_io_timeout, SshReuseFixture) {
  SetSocketStreamOptions({std::chrono::seconds(15), std::chrono::seconds(2)});
  Sync();
  server.Signal(SIGSTOP);
  WriteLocal("stalled.txt", "x\n");
  auto start = std::chrono::steady_clock::now();
  Status s = SyncStatus();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  server.Signal(SIGCONT);
  BOOST_TEST((s.code() == Status::Code::kUnavailable), s.message());
  BOOST_TEST(s.message().find("no data from " + where() + " for 2 s") != std::string::npos, s.message());
  BOOST_TEST(took < 6.0, "the pass took " << took << " s");
  Sync();  // the stalled session was dropped; the server is back
  BOOST_TEST(OnServer("stalled.txt") == "x\n");
}

BOOST_FIXTURE_TEST_CASE(ssh_idle_session_is_closed_after_the_idle_timeout, SshReuseFixture) {
  SetSshPoolLimits({std::chrono::milliseconds(300), 4, 64});
  Sync();
  BOOST_TEST(WaitFor([&] { return server.log().find("gitsyncd: session closed") != std::string::npos; },
                     std::chrono::seconds(10)),
             server.log());
  Sync();
  BOOST_TEST(server.logins() == 2, server.log());
}

BOOST_AUTO_TEST_SUITE_END()
