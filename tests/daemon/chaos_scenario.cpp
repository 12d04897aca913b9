#include "tests/daemon/chaos_scenario.h"

#include <git2.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/wait_for.h"

namespace gitsyncd::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Env = std::map<std::string, std::string>;

constexpr auto kConvergeLimit = std::chrono::seconds(60);
constexpr int kPersonPushAttempts = 20;
const char* const kPassword = "Chaos-pass-4-test";

std::string BlobId(const std::string& content) {
  git_oid oid;
  git_odb_hash(&oid, content.data(), content.size(), GIT_OBJECT_BLOB);
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// One remote, its synced folder, the person pushing to it, and what must hold after a restart.
struct Side {
  std::string name, repo, folder, binding;
  Env env;
  std::unique_ptr<GitClone> person;
  std::map<std::string, std::optional<std::string>> expect;  // folder path -> content (nullopt: deleted)
  std::vector<std::string> kept;                              // contents some branch must still hold
  std::set<std::string> person_commits;                       // accepted pushes: stay on main
  std::optional<int> shared;  // the round whose shared file both sides edit next round
  ChaosRemoteTally tally;
};

// path under the synced folder -> blob id, as the remote branch holds it.
std::map<std::string, std::string> BranchFiles(const Side& s) {
  std::map<std::string, std::string> out;
  CommandResult r = Git({"--git-dir", s.repo, "ls-tree", "-r", "main", "--", "cfg/"}, "", {}, true);
  for (const auto& line : Lines(r.out)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos || tab < 41) continue;
    out[line.substr(tab + 1 + 4)] = line.substr(tab - 40, 40);
  }
  return out;
}

// The same for the folder; everything in it counts (a leftover temp file is a difference).
std::map<std::string, std::string> FolderFiles(const Side& s) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(s.folder, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    std::string rel = fs::relative(it->path(), s.folder, ec).string();
    std::string id = "not a file";
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      try {
        id = BlobId(ReadFile(it->path().string()));
      } catch (const std::exception&) {
        id = "gone while read";  // the daemon renamed or removed it meanwhile: differs, poll again
      }
    }
    out[rel] = id;
  }
  return out;
}

// Empty when the folder and the branch hold the same files and every expected edit.
std::string Difference(const Side& s) {
  // The folder first: it costs no git process, and the branch matters only once it looks right.
  auto folder = FolderFiles(s);
  for (const auto& [path, want] : s.expect) {
    auto f = folder.find(path);
    if (!want && f != folder.end()) return path + " is still in the folder after its deletion";
    if (want && (f == folder.end() || f->second != BlobId(*want))) return path + " is not in the folder as last written";
  }
  auto branch = BranchFiles(s);
  for (const auto& [path, want] : s.expect) {
    auto b = branch.find(path);
    if (!want && b != branch.end()) return path + " is still on the branch after its deletion";
    if (want && (b == branch.end() || b->second != BlobId(*want))) return path + " is not on the branch as last written";
  }
  if (branch == folder) return "";
  for (const auto& [path, id] : branch) {
    auto f = folder.find(path);
    if (f == folder.end()) return path + " is on the branch but not in the folder";
    if (f->second != id) return path + " differs between the branch and the folder";
  }
  for (const auto& [path, id] : folder) {
    if (branch.count(path) == 0) return path + " is in the folder but not on the branch";
  }
  return "";
}

// `env`: for a binding's repository, its shared store (BindingRepoEnv).
CommandResult Fsck(const std::string& git_dir, bool strict, const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> args = {"--git-dir", git_dir, "fsck", "--no-progress"};
  if (strict) args.push_back("--strict");
  return Git(args, "", env, true);
}

// After the sides are in step: nothing was lost or rewound, and both repositories are sound.
void CheckNothingLost(Side& s, const std::string& state_dir, int round, std::vector<std::string>* failures) {
  std::set<std::string> objects, on_main;
  for (const auto& line : Lines(Git({"--git-dir", s.repo, "rev-list", "--objects", "--branches"}).out)) {
    objects.insert(line.substr(0, 40));
  }
  for (const auto& line : Lines(Git({"--git-dir", s.repo, "rev-list", "main"}).out)) on_main.insert(line);
  std::string where = s.name + " remote, after restart " + std::to_string(round) + ": ";
  for (const auto& content : s.kept) {
    if (objects.count(BlobId(content)) != 0) continue;
    ++s.tally.lost_edits;
    failures->push_back(where + "the edit \"" + content.substr(0, content.find('\n')) + "\" is on no branch");
  }
  for (const auto& commit : s.person_commits) {
    if (on_main.count(commit) != 0) continue;
    ++s.tally.rewound_person_commits;
    failures->push_back(where + "the person's pushed commit " + commit + " is no longer on main");
  }
  std::vector<std::pair<std::string, bool>> repos = {{s.repo, true}, {state_dir + "/bindings/" + s.binding + "/repo", false}};
  for (const auto& [dir, strict] : repos) {
    CommandResult fsck = Fsck(dir, strict, strict ? std::map<std::string, std::string>{} : BindingRepoEnv(state_dir));
    if (fsck.exit_code == 0) continue;
    ++s.tally.fsck_failures;
    failures->push_back(where + "git fsck " + dir + ": " + fsck.out + fsck.err);
  }
}

// `both`: the shared file both sides edit in this round, if any.
void LocalEdits(Side& s, int n, std::optional<int> both) {
  auto write = [&](const std::string& path, const std::string& text) {
    WriteFile(s.folder + "/" + path, text);
    s.expect[path] = text;
    s.kept.push_back(text);
    ++s.tally.local_edits;
  };
  std::string tag = s.name + " round " + std::to_string(n);
  write("local-" + std::to_string(n) + ".txt", "local file of " + tag + "\n");
  if (n >= 2) write("local-" + std::to_string(n - 2) + ".txt", "local rewrite in " + tag + "\n");
  if (n >= 4 && n % 4 == 0) {
    std::string gone = "local-" + std::to_string(n - 4) + ".txt";
    fs::remove(s.folder + "/" + gone);
    s.expect[gone] = std::nullopt;
    ++s.tally.local_edits;
  }
  if (both) {
    std::string text = "local side of shared file " + std::to_string(*both) + "\n";
    WriteFile(s.folder + "/shared-" + std::to_string(*both) + ".txt", text);
    s.kept.push_back(text);
    ++s.tally.local_edits;
  }
}

// Commits the person's edits and pushes them, merging (their side wins) when the branch moved.
bool PersonPush(Side& s, const std::string& message) {
  const std::string dir = s.person->dir();
  Git({"add", "--all"}, dir, s.env);
  Git({"commit", "--quiet", "-m", message}, dir, s.env);
  for (int attempt = 0; attempt < kPersonPushAttempts; ++attempt) {
    if (Git({"push", "--quiet", "origin", "HEAD:refs/heads/main"}, dir, s.env, true).exit_code == 0) {
      s.person_commits.insert(s.person->Head());
      ++s.tally.person_pushes;
      return true;
    }
    if (Git({"pull", "--quiet", "--no-rebase", "--no-edit", "-X", "ours", "origin", "main"}, dir, s.env, true)
            .exit_code != 0) {
      Git({"merge", "--abort"}, dir, s.env, true);
    }
  }
  return false;
}

bool PersonEdits(Side& s, int n, std::optional<int> both) {
  std::string tag = s.name + " round " + std::to_string(n);
  auto write = [&](const std::string& path, const std::string& text) {
    s.person->Write("cfg/" + path, text);
    s.kept.push_back(text);
  };
  std::string mine = "remote-" + std::to_string(n) + ".txt";
  write(mine, "person's file of " + tag + "\n");
  s.expect[mine] = "person's file of " + tag + "\n";
  if (n >= 4 && n % 4 == 2) {
    std::string gone = "remote-" + std::to_string(n - 4) + ".txt";
    Git({"rm", "--quiet", "--ignore-unmatch", "cfg/" + gone}, s.person->dir(), s.env);
    s.expect[gone] = std::nullopt;
  }
  if (both) {
    write("shared-" + std::to_string(*both) + ".txt", "person's side of shared file " + std::to_string(*both) + "\n");
    ++s.tally.edited_on_both_sides;
    s.shared.reset();
  } else if (n % 3 == 0) {
    write("shared-" + std::to_string(n) + ".txt", "shared file " + std::to_string(n) + " as created\n");
    s.shared = n;  // both sides edit it in the next round, once each side has it
  }
  return PersonPush(s, "person: " + tag);
}

std::string Tail(const std::string& log) { return log.substr(log.size() > 3000 ? log.size() - 3000 : 0); }

struct World {
  TempDir dir;
  GitHttpsServer server{"deploy", kPassword};
  std::string etc = dir / "etc", state = dir / "state";
  Env daemon_env{{"GITSYNCD_CHAOS_PASSWORD", kPassword}, {"GITSYNCD_CONFIG", ""}};
  std::vector<std::unique_ptr<Side>> sides;

  void AddSide(const std::string& name, const std::string& url, const std::string& person_url, Env env,
               const std::string& repo, const std::string& auth) {
    auto s = std::make_unique<Side>();
    s->name = s->tally.remote = name;
    s->repo = repo;
    s->folder = dir / ("folder-" + name);
    s->binding = name + "-cfg";
    s->env = std::move(env);
    WriteFile(etc + "/connectors.d/" + name + ".yaml",
              "name: " + name + "\nprovider: git\nurl: " + url + "\n" + auth +
                  "syncs:\n  - name: " + s->binding + "\n    path: cfg\n    local: " + s->folder +
                  "\n    poll_interval: 10s\n");
    s->person = std::make_unique<GitClone>(person_url, dir / ("person-" + name), "main", s->env);
    s->person->Write("cfg/seed.txt", "seed of " + name + "\n");
    s->person->CommitAndPush("seed");
    s->expect["seed.txt"] = "seed of " + name + "\n";
    sides.push_back(std::move(s));
  }

  World() {
    git_libgit2_init();
    server.CreateBareRepo("chaos");
    WriteFile(etc + "/gitsyncd.yaml", "state_dir: " + state + "\nca_file: " + server.ca_file() + "\nlog_level: info\n");
    AddSide("https", server.url("chaos"), server.url_with_credentials("chaos"), server.git_env(),
            server.repo_path("chaos"), "auth:\n  username: deploy\n  password: {env: GITSYNCD_CHAOS_PASSWORD}\n");
    std::string file_repo = dir / "file-remote.git";
    InitBareRepo(file_repo);
    AddSide("file", "file://" + file_repo, "file://" + file_repo, {}, file_repo, "");
  }
  ~World() { git_libgit2_shutdown(); }

  // Restart -> every side in step; the failure (naming what differs) or nullopt.
  std::optional<std::string> Converge(DaemonProcess& daemon, int round, ChaosReport* report) {
    auto start = Clock::now();
    std::string last;
    bool ok = WaitFor(
        [&] {
          for (auto& s : sides) {
            last = Difference(*s);
            if (!last.empty()) return false;
          }
          return true;
        },
        kConvergeLimit, std::chrono::milliseconds(100));
    if (!ok) return "restart " + std::to_string(round) + ": not in step after 60 s: " + last + "\n" + Tail(daemon.Log());
    report->converge_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    return std::nullopt;
  }
};

// Runs `fn(side, failures)` for every side at once (each side's git commands are independent).
template <typename Fn>
void ForEachSide(World& w, std::vector<std::string>* failures, Fn fn) {
  std::vector<std::vector<std::string>> found(w.sides.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < w.sides.size(); ++i) threads.emplace_back([&, i] { fn(*w.sides[i], &found[i]); });
  for (auto& t : threads) t.join();
  for (const auto& f : found) failures->insert(failures->end(), f.begin(), f.end());
}

// One round: restart, check, edit both sides, kill. False when the run must stop.
bool Round(World& w, const ChaosOptions& o, int round, std::mt19937& rng, ChaosReport* report) {
  DaemonProcess daemon(o.binary, w.etc, w.dir.path(), w.daemon_env);
  if (round > 0 && std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
    // Killed while it recovers from the previous kill; checked after the next restart.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    daemon.Kill();
    ++report->kills;
    ++report->kills_during_start;
    return true;
  }
  if (auto failed = w.Converge(daemon, round, report)) {
    report->failures.push_back(*failed);
    return false;
  }
  size_t before = report->failures.size();
  ForEachSide(w, &report->failures, [&](Side& s, auto* f) { CheckNothingLost(s, w.state, round, f); });
  if (report->failures.size() != before) return false;
  ++report->restarts_checked;
  bool person_first = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
  ForEachSide(w, &report->failures, [&](Side& s, auto* f) {
    std::optional<int> both = s.shared;
    auto person = [&] {
      if (!PersonEdits(s, round, both)) f->push_back("round " + std::to_string(round) + ": the person could not push to " + s.name);
    };
    if (person_first) person();
    LocalEdits(s, round, both);
    if (!person_first) person();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, o.max_delay_ms)(rng)));
  daemon.Kill();
  ++report->kills;
  return report->failures.size() == before;
}

}  // namespace

ChaosReport RunChaos(const ChaosOptions& o) {
  auto start = Clock::now();
  ChaosReport report;
  World w;
  std::mt19937 rng(o.seed);
  bool going = true;
  auto out_of_time = [&] {
    return o.max_seconds > 0 && std::chrono::duration<double>(Clock::now() - start).count() > o.max_seconds;
  };
  int round = 0;
  for (; going && round < o.kills && !out_of_time(); ++round) {
    going = Round(w, o, round, rng, &report);
    if (o.verbose) {
      std::string sides;
      for (const auto& s : w.sides) {
        const auto& t = s->tally;
        sides += "; " + s->name + ": " + std::to_string(t.local_edits) + " local edits, " + std::to_string(t.person_pushes) +
                 " person pushes, " + std::to_string(t.edited_on_both_sides) + " on both sides, " +
                 std::to_string(t.lost_edits) + " lost, " + std::to_string(t.rewound_person_commits) + " rewound, " +
                 std::to_string(t.fsck_failures) + " fsck failures";
      }
      std::fprintf(stderr, "round %d: %d kills (%d during start), %d checked restarts%s%s\n", round, report.kills,
                   report.kills_during_start, report.restarts_checked, sides.c_str(), going ? "" : ", stopped");
    }
  }
  if (going) {
    // The last restart: in step, nothing lost, and a clean stop.
    DaemonProcess daemon(o.binary, w.etc, w.dir.path(), w.daemon_env);
    if (auto failed = w.Converge(daemon, round, &report)) {
      report.failures.push_back(*failed);
    } else {
      size_t before = report.failures.size();
      ForEachSide(w, &report.failures, [&](Side& s, auto* f) { CheckNothingLost(s, w.state, round, f); });
      if (report.failures.size() == before) ++report.restarts_checked;
    }
    daemon.Signal(SIGTERM);
    if (daemon.Wait() != 0) report.failures.push_back("the daemon did not stop cleanly on SIGTERM");
  }
  for (auto& s : w.sides) {
    s->tally.conflict_branches = static_cast<int>(
        Lines(Git({"--git-dir", s->repo, "for-each-ref", "--format=%(refname)", "refs/heads/gitsyncd/conflicts/"}).out)
            .size());
    report.remotes.push_back(s->tally);
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

std::string ChaosTable(const ChaosReport& r) {
  std::vector<double> ms = r.converge_ms;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  char conv[96];
  std::snprintf(conv, sizeof conv, "%.0f / %.0f / %.0f", pct(0.5), pct(0.9), ms.empty() ? 0.0 : ms.back());
  std::ostringstream out;
  out << "| remote | kills (during start) | restarts checked | local edits | person pushes | files edited on both sides"
         " | conflict branches | edits lost | person commits rewound | fsck failures | restart -> in step p50 / p90 / max ms |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& t : r.remotes) {
    out << "| " << t.remote << " | " << r.kills << " (" << r.kills_during_start << ") | " << r.restarts_checked << " | "
        << t.local_edits << " | " << t.person_pushes << " | " << t.edited_on_both_sides << " | " << t.conflict_branches
        << " | " << t.lost_edits << " | " << t.rewound_person_commits << " | " << t.fsck_failures << " | " << conv
        << " |\n";
  }
  return out.str();
}

}  // namespace gitsyncd::testing
