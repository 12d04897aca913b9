#include "tests/support/git_cli.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace gitsyncd::testing {
namespace {

std::map<std::string, std::string> WithIdentity(std::map<std::string, std::string> env) {
  env.emplace("GIT_AUTHOR_NAME", "Remote Person");
  env.emplace("GIT_AUTHOR_EMAIL", "person@example.com");
  env.emplace("GIT_COMMITTER_NAME", "Remote Person");
  env.emplace("GIT_COMMITTER_EMAIL", "person@example.com");
  env.emplace("GIT_CONFIG_NOSYSTEM", "1");
  env.emplace("GIT_TERMINAL_PROMPT", "0");
  return env;
}

}  // namespace

CommandResult Git(const std::vector<std::string>& args, const std::string& cwd,
                  const std::map<std::string, std::string>& env, bool allow_fail) {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv, WithIdentity(env), "", cwd);
  if (r.exit_code != 0 && !allow_fail) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed: " + cmd + "\n" + r.out + r.err);
  }
  return r;
}

std::map<std::string, std::string> BindingRepoEnv(const std::string& state_dir) {
  std::string objects;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_dir + "/remotes", ec)) {
    objects += (objects.empty() ? "" : ":") + std::filesystem::absolute(e.path() / "objects").string();
  }
  return {{"GIT_ALTERNATE_OBJECT_DIRECTORIES", objects}};
}

void InitBareRepo(const std::string& path, const std::string& branch) {
  Git({"init", "--quiet", "--bare", "--initial-branch=" + branch, path});
}

GitClone::GitClone(const std::string& url, const std::string& dir, const std::string& branch,
                   std::map<std::string, std::string> env)
    : dir_(dir), branch_(branch), env_(std::move(env)) {
  Git({"clone", "--quiet", url, dir_}, "", env_);
  CommandResult has = Git({"rev-parse", "--verify", "--quiet", "origin/" + branch_}, dir_, env_, true);
  if (has.exit_code == 0) {
    Git({"checkout", "--quiet", "-B", branch_, "origin/" + branch_}, dir_, env_);
  } else {
    Git({"checkout", "--quiet", "--orphan", branch_}, dir_, env_);
  }
}

void GitClone::Write(const std::string& path, const std::string& content) { WriteFile(dir_ + "/" + path, content); }

void GitClone::Remove(const std::string& path) { Git({"rm", "--quiet", path}, dir_, env_); }

bool GitClone::CommitAndPush(const std::string& message) {
  Git({"add", "--all"}, dir_, env_);
  Git({"commit", "--quiet", "--allow-empty", "-m", message}, dir_, env_);
  return Git({"push", "--quiet", "origin", "HEAD:refs/heads/" + branch_}, dir_, env_, true).exit_code == 0;
}

void GitClone::Pull() { Git({"pull", "--quiet", "--no-rebase", "origin", branch_}, dir_, env_); }

std::string GitClone::Head() {
  std::string out = Git({"rev-parse", "HEAD"}, dir_, env_).out;
  return out.substr(0, out.find('\n'));
}

std::string GitClone::HashObject(const std::string& type, const std::string& content) {
  CommandResult r = RunCommand({"git", "hash-object", "-t", type, "--literally", "-w", "--stdin"}, WithIdentity(env_),
                               content, dir_);
  if (r.exit_code != 0) throw std::runtime_error("git hash-object failed: " + r.err);
  return r.out.substr(0, r.out.find('\n'));
}

std::string GitClone::RawTree(const std::vector<RawEntry>& entries) {
  std::string raw;
  for (const auto& e : entries) {
    raw += e.mode + " " + e.name + std::string(1, '\0');
    for (size_t i = 0; i + 1 < e.id.size(); i += 2) raw += static_cast<char>(std::stoi(e.id.substr(i, 2), nullptr, 16));
  }
  return HashObject("tree", raw);
}

std::string GitClone::PushTree(const std::string& tree, const std::string& message, const std::string& parent,
                               bool force) {
  std::string out = Git({"commit-tree", tree, "-p", parent.empty() ? Head() : parent, "-m", message}, dir_, env_).out;
  std::string commit = out.substr(0, out.find('\n'));
  Git({"push", "--quiet", force ? "--force" : "--no-force", "origin", commit + ":refs/heads/" + branch_}, dir_, env_);
  Git({"update-ref", "HEAD", commit}, dir_, env_);
  return commit;
}

std::string ShowFile(const std::string& repo, const std::string& rev, const std::string& path, bool* found,
                     const std::map<std::string, std::string>& env) {
  CommandResult r = Git({"--git-dir", repo, "show", rev + ":" + path}, "", env, true);
  if (found) *found = r.exit_code == 0;
  return r.exit_code == 0 ? r.out : "";
}

std::vector<std::string> Branches(const std::string& repo) {
  std::string out = Git({"--git-dir", repo, "for-each-ref", "--format=%(refname:short)", "refs/heads"}).out;
  std::vector<std::string> names;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

std::string LogFormat(const std::string& repo, const std::string& rev, const std::string& fmt) {
  return Git({"--git-dir", repo, "log", "-1", "--format=" + fmt, rev}).out;
}

}  // namespace gitsyncd::testing
