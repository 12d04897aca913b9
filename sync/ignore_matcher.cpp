// Matching is libgit2's: the rules go in with git_ignore_add_rule and every question is
// git_ignore_path_is_ignored on a handle of the binding's repository whose work folder is set
// (in memory only) to a private copy of the synced folder's .gitignore files. Why this way:
// - libgit2's matcher is git's (negation, anchoring, `**`, folder-only rules, a path inside an
//   ignored folder), so `ignore:` and .gitignore mean what they mean to git; no second matcher.
// - Rules added with git_ignore_add_rule are consulted before any .gitignore file
//   (libgit2 1.5, src/libgit2/ignore.c, git_ignore_path_is_ignored), so the operator's rules
//   win: a .gitignore pushed by anyone who may write the branch cannot un-ignore a file the
//   operator keeps local (`!secrets.env`). The .gitignore files decide what no rule matches.
// - libgit2 reads a work folder's .gitignore files by path: through symlinks, and a FIFO
//   there would block the pass forever. The copy is read beneath the folder's descriptor
//   (no symlink followed, O_NONBLOCK, regular files only, size-capped), as every other read.
// - The handle gets a config of its own, so the daemon user's ~/.gitconfig, its
//   core.excludesFile and the XDG git/ignore file play no part, and matching is case-sensitive.
#include "sync/ignore_matcher.h"

#include <fcntl.h>
#include <git2/sys/repository.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>

#include "sync/binding_repo.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteWhole(const std::string& path, const std::string& data) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

// Skips a bracket expression starting at pattern[i] == '['; the index after its ']', or npos
// when it has none. As in git's wildmatch, a ']' right after '[', '[!' or '[^' is a member.
size_t BracketEnd(const std::string& pattern, size_t i) {
  size_t j = i + 1;
  if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;
  for (; j < pattern.size(); ++j) {
    if (pattern[j] == '\\') {
      ++j;
    } else if (pattern[j] == '[' && j + 1 < pattern.size() && pattern[j + 1] == ':') {
      size_t close = pattern.find(":]", j + 2);
      if (close == std::string::npos) return std::string::npos;
      j = close + 1;
    } else if (pattern[j] == ']') {
      return j + 1;
    }
  }
  return std::string::npos;
}

}  // namespace

std::optional<std::string> IgnoreLiteral(const std::string& line) {
  // git: a comment or a negation starts in the first column, and a line of spaces is no rule.
  // Other whitespace-only lines are left to libgit2.
  if (line.find_first_not_of(' ') == std::string::npos || line[0] == '#' || line[0] == '!') return std::nullopt;
  size_t start = 0;
  std::string best, run;
  auto end_run = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  for (size_t i = start; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size() && static_cast<unsigned char>(line[i + 1]) > ' ') {
      run += line[++i];  // an escaped character is itself
    } else if (c == '[') {
      end_run();
      size_t after = BracketEnd(line, i);
      if (after == std::string::npos) return std::string();  // unsure what it means: may match anything
      i = after - 1;
    } else if (c == '*' || c == '?' || c == '/' || c == '\\' || static_cast<unsigned char>(c) <= ' ') {
      end_run();  // whitespace too: trailing spaces are trimmed, and a run cut short is still required
    } else {
      run += c;
    }
  }
  end_run();
  return best;
}

void IgnoreLiterals::Add(const std::string& lines) {
  for (size_t begin = 0; begin <= lines.size() && !any;) {
    size_t end = lines.find('\n', begin);
    if (end == std::string::npos) end = lines.size();
    if (auto lit = IgnoreLiteral(lines.substr(begin, end - begin))) {
      if (lit->empty()) any = true;
      else runs.push_back(std::move(*lit));
    }
    begin = end + 1;
  }
}

bool IgnoreLiterals::MayMatch(const std::string& path) const {
  if (any) return true;
  for (const auto& r : runs) {
    if (path.find(r) != std::string::npos) return true;
  }
  return false;
}

namespace {

// The matcher's config: the config file of the remote's shared store, read by every binding
// of it, or without a store the binding repository's own (nothing else reads either for
// these keys: both repositories are bare), so that a binding costs no file or folder for it.
// The excludes file it names never exists: no global excludes apply. Written once per store
// (under a lock: the bindings of one store open their matchers in parallel).
Result<ConfigPtr> IgnoreConfig(git_repository* repo, const std::string& config_dir) {
  static std::mutex written_mu;
  git_config* raw = nullptr;
  int rc = git_config_new(&raw);
  if (rc < 0) return GitError(rc, "cannot create a config");
  ConfigPtr cfg(raw);
  std::string file = config_dir + "/config";
  rc = git_config_add_file_ondisk(raw, file.c_str(), GIT_CONFIG_LEVEL_APP, repo, 1);
  if (rc < 0) return GitError(rc, "cannot read " + file);
  std::string excludes = config_dir + "/no-global-excludes";
  std::lock_guard<std::mutex> lock(written_mu);
  git_buf current = GIT_BUF_INIT;
  bool same = git_config_get_string_buf(&current, raw, "core.excludesFile") == 0 && excludes == current.ptr;
  git_buf_dispose(&current);
  if (!same && (rc = git_config_set_string(raw, "core.excludesFile", excludes.c_str())) < 0) {
    return GitError(rc, "cannot write " + file);
  }
  int ignore_case = 1;
  if ((git_config_get_bool(&ignore_case, raw, "core.ignoreCase") < 0 || ignore_case != 0) &&
      (rc = git_config_set_bool(raw, "core.ignoreCase", 0)) < 0) {
    return GitError(rc, "cannot write " + file);
  }
  return cfg;
}

}  // namespace

Result<std::unique_ptr<IgnoreMatcher>> IgnoreMatcher::Open(const std::string& binding_dir, const std::string& folder,
                                                           const std::vector<std::string>& rules,
                                                           const std::string& shared_store) {
  std::unique_ptr<IgnoreMatcher> m(new IgnoreMatcher());
  m->folder_ = folder;
  m->view_ = binding_dir + "/ignore/view";
  // Matching reads no object: the store is not attached.
  auto opened = OpenBindingRepo(binding_dir, "");
  if (!opened.ok()) return opened.status().WithContext("cannot open the binding's repository for ignore rules");
  m->repo_ = std::move(opened).value();
  git_repository* raw = m->repo_.get();
  auto cfg = IgnoreConfig(raw, shared_store.empty() ? BindingRepoDir(binding_dir) : shared_store);
  if (!cfg.ok()) return cfg.status();
  int rc = git_repository_set_config(raw, cfg->get());
  if (rc < 0) return GitError(rc, "cannot set the ignore config");
  // The view is made when the first .gitignore is copied into it; until then the work folder
  // is the binding's state folder, which holds no .gitignore either.
  std::error_code ec;
  m->view_made_ = fs::is_directory(m->view_, ec);
  if (m->view_made_) {
    // Left by a version that kept the config here, and an empty view: nothing to keep.
    fs::remove(binding_dir + "/ignore/config", ec);
    if (fs::remove(m->view_, ec)) {
      fs::remove(binding_dir + "/ignore", ec);
      m->view_made_ = false;
    }
  }
  rc = git_repository_set_workdir(raw, m->view_made_ ? m->view_.c_str() : binding_dir.c_str(), 0);
  if (rc < 0) return GitError(rc, "cannot set up ignore matching");
  std::string text;
  for (const auto& r : rules) text += r + "\n";
  rc = git_ignore_add_rule(raw, text.c_str());
  if (rc < 0) return GitError(rc, "cannot read the ignore rules");
  m->literals_.Add(text);
  return m;
}

// Copies `<folder>/<dir>/.gitignore` into the view (or removes the copy when there is none).
Status IgnoreMatcher::Mirror(const std::string& dir) {
  if (!mirrored_.insert(dir).second) return Status::Ok();
  if (!folder_opened_) {
    folder_opened_ = true;
    auto fd = OpenFolder(folder_);
    if (fd.ok()) folder_fd_ = std::move(fd).value();  // no folder yet: no .gitignore either
  }
  std::string rel = dir.empty() ? ".gitignore" : dir + "/.gitignore";
  std::optional<std::string> content;
  if (folder_fd_) {
    UniqueFd fd(OpenBeneath(folder_fd_.get(), rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    struct stat st{};
    // A symlink, FIFO or folder there is no .gitignore (the scan reports it as not synced).
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      auto data = ReadOpenFile(fd.get(), folder_ + "/" + rel, kMaxGitignoreSize);
      if (!data.ok()) {
        return Status::InvalidArgument(folder_ + "/" + rel + " is not read (larger than " +
                                       std::to_string(kMaxGitignoreSize / 1024) +
                                       " KiB, or unreadable): nothing is synced until it is fixed, so that what it "
                                       "ignores is not pushed; " + data.status().message());
      }
      content = std::move(data).value();
    }
  }
  std::string copy = view_ + "/" + rel;
  if (content) literals_.Add(*content);
  if (!content) {
    std::error_code ec;
    fs::remove(copy, ec);
    return Status::Ok();
  }
  if (ReadWhole(copy) == content) return Status::Ok();
  if (!view_made_) {
    std::error_code ec;
    fs::create_directories(view_, ec);
    if (ec) return Status::IoError("cannot create " + view_ + ": " + ec.message());
    int rc = git_repository_set_workdir(repo_.get(), view_.c_str(), 0);
    if (rc < 0) return GitError(rc, "cannot set up ignore matching");
    view_made_ = true;
  }
  return WriteWhole(copy, *content);
}

Result<bool> IgnoreMatcher::Ignored(const std::string& rel, bool is_dir) {
  // Not a path inside the folder ("", "..", "/x", "a//b"): no rule speaks for it, and the
  // caller's own path check refuses it.
  for (size_t start = 0;;) {
    size_t slash = rel.find('/', start);
    std::string_view part(rel.data() + start, (slash == std::string::npos ? rel.size() : slash) - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  // libgit2 reads the .gitignore of every folder from the root down to the path's own.
  Status s = Mirror("");
  for (size_t slash = rel.find('/'); s.ok() && slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    s = Mirror(rel.substr(0, slash));
  }
  if (!s.ok()) return s;
  if (!literals_.MayMatch(rel)) return false;
  int ignored = 0;
  std::string asked = is_dir ? rel + "/" : rel;
  int rc = git_ignore_path_is_ignored(&ignored, repo_.get(), asked.c_str());
  if (rc < 0) return GitError(rc, "cannot match ignore rules against " + rel);
  return ignored == 1;
}

}  // namespace gitsyncd
