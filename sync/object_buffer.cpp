#include "sync/object_buffer.h"

#include <git2/sys/mempack.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "sync/binding_repo.h"

namespace gitsyncd {

Result<std::unique_ptr<ObjectBuffer>> ObjectBuffer::Open(const std::string& binding_dir,
                                                         const std::string& shared_store) {
  std::unique_ptr<ObjectBuffer> b(new ObjectBuffer());
  auto opened = OpenBindingRepo(binding_dir, shared_store);
  if (!opened.ok()) return opened.status();
  b->repo_ = std::move(opened).value();
  std::string repo_dir = BindingRepoDir(binding_dir);
  git_odb* odb = nullptr;
  int rc = git_repository_odb(&odb, b->repo_.get());
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
  // Loose objects, as the full pass writes them: a small pack per pass would pile up packs
  // until the next maintenance (repo_maintenance.h), and every object lookup checks every
  // pack's index.
  git_odb* mem_raw = nullptr;
  int rc = git_repository_odb(&mem_raw, repo_.get());
  if (rc < 0) return GitError(rc, "cannot open the in-memory object store");
  OdbPtr mem(mem_raw);
  git_odb* disk_raw = nullptr;
  rc = git_repository_odb(&disk_raw, disk);
  if (rc < 0) return GitError(rc, "cannot open the object database");
  OdbPtr on_disk(disk_raw);
  Status copied = CopyObjects(mem_raw, disk_raw, objects);
  if (!copied.ok()) return copied;
  rc = git_mempack_reset(mempack_);
  if (rc < 0) return GitError(rc, "cannot empty the in-memory object store");
  return Status::Ok();
}

Status CopyObjects(git_odb* from, git_odb* to, const std::vector<git_oid>& ids) {
  for (const auto& id : ids) {
    if (git_odb_exists(to, &id) == 1) continue;
    git_odb_object* obj = nullptr;
    int rc = git_odb_read(&obj, from, &id);
    if (rc < 0) return GitError(rc, "cannot read object " + OidHex(id));
    OdbObjectPtr object(obj);
    git_oid written;
    rc = git_odb_write(&written, to, git_odb_object_data(obj), git_odb_object_size(obj), git_odb_object_type(obj));
    if (rc < 0) return GitError(rc, "cannot store object " + OidHex(id));
  }
  return Status::Ok();
}

void RemoveDanglingRefs(git_repository* repo) {
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, repo) < 0) return;
  OdbPtr odb(raw);
  git_reference_iterator* it = nullptr;
  if (git_reference_iterator_glob_new(&it, repo, "refs/gitsyncd/*") < 0) return;
  ReferenceIteratorPtr refs(it);
  std::vector<std::string> dangling;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it) == 0) {
    ReferencePtr owned(ref);
    const git_oid* target = git_reference_target(ref);
    if (target != nullptr && git_odb_exists(raw, target) != 1) dangling.emplace_back(git_reference_name(ref));
  }
  for (const auto& name : dangling) {
    spdlog::warn("removing {}: its commit was never stored (an interrupted run); the next fetch brings it", name);
    if (int rc = git_reference_remove(repo, name.c_str()); rc < 0) {
      spdlog::warn("{}", GitError(rc, "cannot remove " + name).message());
    }
  }
}

}  // namespace gitsyncd
