// RAII for libgit2 handles (a unique_ptr with the matching free function) and the border
// where libgit2 error codes become our Status. Every git_* handle in sync/ is owned by one
// of these; a git_repository is used by one thread at a time.
#pragma once

#include <git2.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace gitsyncd {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepositoryPtr = GitPtr<git_repository, git_repository_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using TreeBuilderPtr = GitPtr<git_treebuilder, git_treebuilder_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;
using SignaturePtr = GitPtr<git_signature, git_signature_free>;
using IndexPtr = GitPtr<git_index, git_index_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using OdbPtr = GitPtr<git_odb, git_odb_free>;
using DiffPtr = GitPtr<git_diff, git_diff_free>;
using RevwalkPtr = GitPtr<git_revwalk, git_revwalk_free>;
using ConfigPtr = GitPtr<git_config, git_config_free>;
using OdbObjectPtr = GitPtr<git_odb_object, git_odb_object_free>;
using ReferenceIteratorPtr = GitPtr<git_reference_iterator, git_reference_iterator_free>;
using PackbuilderPtr = GitPtr<git_packbuilder, git_packbuilder_free>;

// Turns a failing libgit2 return code into a Status "<context>: <libgit2 message>".
// git_error_last() may be null after a failure (a callback returned -1, GIT_ENOTFOUND from
// some calls): then the message names the code instead. Never dereferences it unchecked.
// Every call is checked the one way:
//   if (int rc = git_x(&raw, ...); rc < 0) return GitError(rc, "what was being done");
//   XPtr owned(raw);
Status GitError(int rc, const std::string& context);

// A kill -9 while libgit2 writes a ref, the index or the config leaves its "<file>.lock"
// behind, and every later write of that file fails. Removes those of the repository at
// `repo_dir` (logged), for a caller that knows no writer of it is running: the file each
// guarded was never replaced, so nothing is lost.
void RemoveStaleLocks(const std::string& repo_dir);

// Initialises libgit2 once per process (git_libgit2_init) and shuts it down at exit.
void EnsureLibgit2();

std::string OidHex(const git_oid& oid);

}  // namespace gitsyncd
