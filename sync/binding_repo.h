// A binding's own repository, <binding_dir>/repo (docs/sync.md, "Shared object stores"), opened
// the one way every reader of it must: reading the objects of the remote's shared store too.
// The store is attached when the repository is opened (git_odb_add_disk_alternate), not named
// in an objects/info/alternates file, so a binding keeps no file for it. The `git` program
// reads such a repository with GIT_ALTERNATE_OBJECT_DIRECTORIES=<store>/objects.
#pragma once

#include <string>

#include "base/status.h"
#include "sync/git_handles.h"

namespace gitsyncd {

// <binding_dir>/repo.
std::string BindingRepoDir(const std::string& binding_dir);

// Opens <binding_dir>/repo (GIT_ENOTFOUND in the status's message when it is not there);
// with a store (BindingSpec::shared_store, empty: none), its objects are read as well,
// creating the store when missing.
Result<RepositoryPtr> OpenBindingRepo(const std::string& binding_dir, const std::string& shared_store);

}  // namespace gitsyncd
