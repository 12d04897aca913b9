// Which paths of a synced folder are ignored: the binding's rules (config/ignore_rules.h) and
// the folder's .gitignore files, matched by libgit2's own gitignore code. An ignored path is
// never pushed, never pulled, and never deleted on either side because it is ignored.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/folder_fd.h"
#include "sync/git_handles.h"

namespace gitsyncd {

// A .gitignore larger than this is refused (the pass fails naming it) rather than skipped:
// skipping it would push what it ignores.
inline constexpr uint64_t kMaxGitignoreSize = 1024 * 1024;

// What one gitignore line needs of a path before it can match it, for skipping libgit2 when no
// line can (a call costs about 28 us; a 20,000-file scan asks 20,000 times). For a pattern
// that can ignore (not blank, a comment or a negation), the longest run of literal characters
// it holds between wildcards, brackets and slashes: a path the pattern matches, at any folder
// level, holds that run. "" when the pattern holds none (`*`, `**/`): it may match anything.
// nullopt when the line can never ignore a path. Never claims more than git's syntax allows:
// a shorter run only means more paths go to libgit2.
std::optional<std::string> IgnoreLiteral(const std::string& line);

// The runs of a set of lines; `any` when one of them may match anything.
struct IgnoreLiterals {
  std::vector<std::string> runs;
  bool any = false;
  void Add(const std::string& lines);  // one or more '\n'-separated lines
  bool MayMatch(const std::string& path) const;
};

class IgnoreMatcher {
 public:
  // `rules`: gitignore lines in the order they apply. Keeps a private copy of the folder's
  // .gitignore files under `<binding_dir>/ignore/`. One pass's matcher: .gitignore files are
  // read once each, the first time a path beneath them is asked about. Its settings (no global
  // excludes, case-sensitive) are kept in the config of `shared_store` when the binding has
  // one (BindingSpec::shared_store), else in the binding's repository's.
  static Result<std::unique_ptr<IgnoreMatcher>> Open(const std::string& binding_dir, const std::string& folder,
                                                     const std::vector<std::string>& rules,
                                                     const std::string& shared_store = "");

  // `rel`: '/'-separated, relative to the folder; `is_dir` for a folder (rules ending in '/'
  // match only folders). A path inside an ignored folder is ignored.
  Result<bool> Ignored(const std::string& rel, bool is_dir = false);

 private:
  IgnoreMatcher() = default;
  Status Mirror(const std::string& dir);

  RepositoryPtr repo_;
  std::string folder_;
  UniqueFd folder_fd_;
  bool folder_opened_ = false;
  std::string view_;  // the private copy of the folder's .gitignore files
  bool view_made_ = false;
  std::set<std::string> mirrored_;
  IgnoreLiterals literals_;  // of the rules and every .gitignore mirrored so far
  // A path none of whose applicable lines can match it is not asked about; literals_ holds
  // more lines than apply to a given path, which only means asking more often.
};

}  // namespace gitsyncd
