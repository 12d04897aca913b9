// A second handle on a binding's repository whose new objects stay in memory (libgit2's
// mempack) until WriteTo stores them in the repository on disk. An incremental
// pass writes a handful of objects (the changed blobs, the trees along their paths, a commit)
// and pushes them; each loose object file costs about 1 ms on a busy ext4, so the push goes
// out first and the objects are written to disk (as loose objects) after it.
// Reads see both the memory and the disk; refs are written to disk as usual.
#pragma once

#include <git2.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/git_handles.h"

namespace gitsyncd {

class ObjectBuffer {
 public:
  // The repository of the binding at `binding_dir`, as sync/binding_repo.h opens it.
  static Result<std::unique_ptr<ObjectBuffer>> Open(const std::string& binding_dir, const std::string& shared_store);
  ~ObjectBuffer();
  ObjectBuffer(const ObjectBuffer&) = delete;
  ObjectBuffer& operator=(const ObjectBuffer&) = delete;

  git_repository* repo() const { return repo_.get(); }
  // Stores `objects` (buffered or not; each taken alone, not with what it points to) in
  // `disk` (a plain handle on the same repository) as loose objects. Must run before anything that
  // outlives the pass names them (state.json); refs written meanwhile are repaired at the next
  // start (RemoveDanglingRefs). Objects not listed are dropped with the buffer.
  Status WriteTo(git_repository* disk, const std::vector<git_oid>& objects);

 private:
  ObjectBuffer() = default;
  RepositoryPtr repo_;
  git_odb_backend* mempack_ = nullptr;  // owned by the repository's odb
};

// Writes each of `ids` that `to` does not have yet (alternates included), read from `from`.
Status CopyObjects(git_odb* from, git_odb* to, const std::vector<git_oid>& ids);

// Deletes refs under refs/gitsyncd/ whose commit is missing: what a kill -9 between a push
// and ObjectBuffer::WriteTo leaves. The commits are on the remote; the next fetch brings them.
void RemoveDanglingRefs(git_repository* repo);

}  // namespace gitsyncd
