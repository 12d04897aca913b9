// "Valid state before sync": YAML files must parse before they are pushed or applied.
#pragma once

#include <git2.h>

#include <string>

#include "config/status.h"
#include "sync/folder_tree.h"

namespace gitsyncd {

// Checks every .yaml/.yml file of `files` whose entry differs from `unchanged_from` (files
// equal there were checked before). `side` is "local" or "remote" for the message:
//   "local file apps/a.yaml:3:7: <yaml message>; waiting for a fix"
Status CheckYamlFiles(git_repository* repo, const FlatTree& files, const FlatTree& unchanged_from,
                      const std::string& side);

}  // namespace gitsyncd
