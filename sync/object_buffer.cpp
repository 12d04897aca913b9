#include "sync/object_buffer.h"

#include <git2/sys/mempack.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

namespace gitsyncd {

Result<std::unique_ptr<ObjectBuffer>> ObjectBuffer::Open(const std::string& repo_dir) {
  std::unique_ptr<ObjectBuffer> b(new ObjectBuffer());
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, repo_dir.c_str());
  if (rc < 0) return GitError(rc, "cannot open the binding's repository " + repo_dir);
  b->repo_.reset(raw);
  git_odb* odb = nullptr;
  rc = git_repository_odb(&odb, raw);
  if (rc < 0) return GitError(rc, "cannot open the object database of " + repo_dir);
  OdbPtr owned(odb);
  rc = git_mempack_new(&b->mempack_);
  if (rc < 0) return GitError(rc, "cannot create an in-memory object store");
  // Above the loose and pack backends: every write lands here.
  rc = git_odb_add_backend(odb, b->mempack_, 1000);
  if (rc < 0) return GitError(rc, "cannot add the in-memory object store");
  return b;
}

ObjectBuffer::~ObjectBuffer() = default;

Status ObjectBuffer::WriteTo(git_repository* disk, const std::vector<git_oid>& objects) {
  if (objects.empty()) return Status::Ok();
  // Not git_mempack_dump: it packs each commit with its whole tree, the entire repository.
  git_packbuilder* raw = nullptr;
  int rc = git_packbuilder_new(&raw, repo_.get());
  if (rc < 0) return GitError(rc, "cannot pack the pass's new objects");
  std::unique_ptr<git_packbuilder, decltype(&git_packbuilder_free)> builder(raw, git_packbuilder_free);
  git_packbuilder_set_threads(raw, 1);
  for (const auto& oid : objects) {
    rc = git_packbuilder_insert(raw, &oid, nullptr);
    if (rc < 0) return GitError(rc, "cannot pack object " + OidHex(oid));
  }
  git_buf pack = GIT_BUF_INIT;
  rc = git_packbuilder_write_buf(&pack, raw);
  if (rc < 0) return GitError(rc, "cannot pack the pass's new objects");
  git_odb* odb = nullptr;
  rc = git_repository_odb(&odb, disk);
  if (rc < 0) {
    git_buf_dispose(&pack);
    return GitError(rc, "cannot open the object database");
  }
  OdbPtr owned(odb);
  git_odb_writepack* wp = nullptr;
  git_indexer_progress stats{};
  rc = git_odb_write_pack(&wp, odb, nullptr, nullptr);
  if (rc >= 0) rc = wp->append(wp, pack.ptr, pack.size, &stats);
  if (rc >= 0) rc = wp->commit(wp, &stats);
  if (wp != nullptr) wp->free(wp);
  git_buf_dispose(&pack);
  if (rc < 0) return GitError(rc, "cannot store the pass's new objects");
  git_mempack_reset(mempack_);
  return Status::Ok();
}

void RemoveDanglingRefs(git_repository* repo) {
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, repo) < 0) return;
  OdbPtr odb(raw);
  git_reference_iterator* it = nullptr;
  if (git_reference_iterator_glob_new(&it, repo, "refs/gitsyncd/*") < 0) return;
  std::vector<std::string> dangling;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it) == 0) {
    const git_oid* target = git_reference_target(ref);
    if (target != nullptr && git_odb_exists(raw, target) != 1) dangling.emplace_back(git_reference_name(ref));
    git_reference_free(ref);
  }
  git_reference_iterator_free(it);
  for (const auto& name : dangling) {
    spdlog::warn("removing {}: its commit was never stored (an interrupted run); the next fetch brings it", name);
    git_reference_remove(repo, name.c_str());
  }
}

}  // namespace gitsyncd
