// Rules for names a user writes: display names, Git branch names, secret names.
// Each check returns an empty string when the value is fine, else the reason (no location;
// the caller adds file:line:col and the key).
#pragma once

#include <string>
#include <string_view>

namespace gitsyncd {

// Display names of connectors and syncs: letters (any script), digits, space, '_', '-', '.';
// not empty, at most 100 characters, no leading/trailing space, nothing from the Emoticons
// block (U+1F600..U+1F64F).
std::string CheckDisplayName(std::string_view name);

// Names of imported connectors and syncs (`gitsyncd import`): a display name that also does
// not start or end with a special character (space, '_', '-', '.'), has no two of them in a
// row, and does not end in ".git".
std::string CheckImportName(std::string_view name);

// A Git branch name as `git check-ref-format --branch` accepts it, and no Emoticons.
std::string CheckBranchName(std::string_view branch);

// True when the UTF-8 text contains a code point of the Emoticons block.
bool ContainsEmoticon(std::string_view utf8);

// Edit distance, for "did you mean" hints.
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace gitsyncd
