#include "sync/binding_repo.h"

#include "sync/shared_store.h"

namespace gitsyncd {

std::string BindingRepoDir(const std::string& binding_dir) { return binding_dir + "/repo"; }

Result<RepositoryPtr> OpenBindingRepo(const std::string& binding_dir, const std::string& shared_store) {
  EnsureLibgit2();
  std::string path = BindingRepoDir(binding_dir);
  git_repository* raw = nullptr;
  if (int rc = git_repository_open_bare(&raw, path.c_str()); rc < 0) {
    return GitError(rc, "cannot open the binding's repository " + path);
  }
  RepositoryPtr repo(raw);
  if (!shared_store.empty()) {
    Status borrowed = BorrowFromSharedStore(repo.get(), shared_store);
    if (!borrowed.ok()) return borrowed;
  }
  return repo;
}

}  // namespace gitsyncd
