// Under systemd, log lines reach journald with fields that select one binding
// (`journalctl GITSYNCD_BINDING=app`). The test plays journald: it binds the native socket
// /run/systemd/journal/socket (only where no journald runs) and reads what the daemon sends.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <map>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// One native-protocol datagram: KEY=VALUE lines (values here have no newlines).
std::map<std::string, std::string> ParseEntry(const std::string& datagram) {
  std::map<std::string, std::string> fields;
  size_t pos = 0;
  while (pos < datagram.size()) {
    size_t nl = datagram.find('\n', pos);
    std::string line = datagram.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    size_t eq = line.find('=');
    if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return fields;
}

}  // namespace

BOOST_AUTO_TEST_CASE(journald_lines_carry_binding_connector_and_commit_fields) {
  if (std::filesystem::exists(kJournalSocket) || ::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: a journald already owns " << kJournalSocket << " (or not root)");
    return;
  }
  std::filesystem::create_directories("/run/systemd/journal");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, kJournalSocket, sizeof addr.sun_path - 1);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  struct Cleanup {
    int fd;
    ~Cleanup() {
      ::close(fd);
      ::unlink(kJournalSocket);
    }
  } cleanup{fd};

  TempDir dir;
  std::string remote = dir / "remote.git";
  Git({"init", "--bare", "-q", "-b", "main", remote});
  GitClone person("file://" + remote, dir / "person", "main");
  person.Write("app/a.yaml", "a: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  WriteFile(dir / "etc/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nlog_level: debug\n");
  WriteFile(dir / "etc/connectors.d/team.yaml",
            "name: team\nprovider: git\nurl: file://" + remote +
                "\ncommit_author:\n  name: Bot\n  email: bot@example.com\nsyncs:\n  - name: app\n    path: app\n"
                "    local: " + (dir / "srv/app") + "\n");
  DaemonProcess daemon(RequiredEnv("GITSYNCD_BINARY"), dir / "etc", dir.path(),
                       {{"JOURNAL_STREAM", "stderr"}, {"GITSYNCD_CONFIG", ""}});
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(dir / "srv/app/a.yaml"); }), daemon.Log());
  std::string head = Git({"--git-dir", remote, "rev-parse", "main"}).out;
  head.pop_back();

  bool found_pass_line = false;
  std::vector<std::string> seen;
  WaitFor([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      auto f = ParseEntry(std::string(buf, static_cast<size_t>(n)));
      seen.push_back(f["MESSAGE"]);
      BOOST_TEST(f["SYSLOG_IDENTIFIER"] == "gitsyncd");
      BOOST_TEST(!f["PRIORITY"].empty());
      if (f["GITSYNCD_BINDING"] == "app" && f["GITSYNCD_CONNECTOR"] == "team" && f["GITSYNCD_COMMIT"] == head &&
          f["MESSAGE"].find("sync 'app'") != std::string::npos) {
        found_pass_line = true;
      }
    }
    return found_pass_line;
  }, 10s);
  std::string all;
  for (const auto& m : seen) all += m + "\n";
  BOOST_TEST(found_pass_line, "journal entries received:\n" << all << "stderr:\n" << daemon.Log());
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}
