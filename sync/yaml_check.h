// "Valid state before sync": YAML files must parse before they are pushed or applied.
#pragma once

#include <git2.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "sync/folder_tree.h"

namespace gitsyncd {

// Larger YAML files are not parsed (a parse holds many times the file in memory): they are
// synced unvalidated and reported.
inline constexpr size_t kMaxYamlCheckBytes = 4 * 1024 * 1024;

// Where a file does not parse.
struct YamlFault {
  std::string path;  // as in `files`
  int line = 0;      // 1-based; 0 when the parser named no place
};

// Checks every .yaml/.yml file of `files` whose entry differs from `unchanged_from` (files
// equal there were checked before). `side` is "local" or "remote" for the message:
//   "local file apps/a.yaml:3:7: <yaml message>; waiting for a fix"
// A file over kMaxYamlCheckBytes is not read; it is described in `not_checked` (may be null).
// The file that does not parse is also described in `fault` (may be null).
Status CheckYamlFiles(git_repository* repo, const FlatTree& files, const FlatTree& unchanged_from,
                      const std::string& side, std::vector<std::string>* not_checked = nullptr,
                      YamlFault* fault = nullptr);

}  // namespace gitsyncd
