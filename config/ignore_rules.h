// Ignore rules of a sync binding, in gitignore syntax: a built-in list for editor and OS temp
// files, then the connector's and the sync's `ignore:` lists. This file holds the lists and
// checks each rule; matching is libgit2's own (sync/ignore_matcher.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gitsyncd {

inline constexpr size_t kMaxIgnoreRules = 1000;       // per list
inline constexpr size_t kMaxIgnoreRuleLength = 1024;  // bytes

struct DefaultIgnoreRule {
  const char* pattern;  // gitignore syntax
  const char* what;     // who writes such files (docs/sync.md lists the same)
};

// The built-in rules, applied first unless `ignore_defaults: false`.
const std::vector<DefaultIgnoreRule>& DefaultIgnoreRules();

// Why `rule` cannot be used as one gitignore line ("" when it can): empty, a comment, a
// newline (which would smuggle in more rules), or longer than kMaxIgnoreRuleLength.
std::string IgnoreRuleProblem(const std::string& rule);

// The rules in the order they apply (a later rule wins over an earlier one, as in a
// .gitignore): the defaults when `defaults` is set, then `connector`, then `sync`.
std::vector<std::string> EffectiveIgnoreRules(bool defaults, const std::vector<std::string>& connector,
                                              const std::vector<std::string>& sync);

}  // namespace gitsyncd
