// Reading and hashing single local files, never through a symlink.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <openssl/evp.h>

#include "sync/folder_fd.h"
#include "sync/folder_tree.h"

namespace gitsyncd {
namespace {

// The blob id of the open regular file `fd` ("blob <size>\0" + content, SHA-1), read in
// pieces: comparing a file with a tree entry needs no size limit and bounded memory. The header
// names the size fstat saw; a file that changes size while being read hashes to an id no tree
// holds, which callers treat as "changed" (the truth).
Result<git_oid> HashBlobStream(int fd, off_t size, const std::string& what) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha1(), nullptr) != 1) return Status::Internal("cannot start SHA-1");
  std::string header = "blob " + std::to_string(size) + std::string(1, '\0');
  EVP_DigestUpdate(md.get(), header.data(), header.size());
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("cannot read " + what + ": " + std::strerror(errno));
    if (n == 0) break;
    EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(md.get(), digest, &len);
  git_oid oid;
  git_oid_fromraw(&oid, digest);
  return oid;
}

// Hashes the open file `fd` (named `what` in errors) as a blob, or an odd entry (mode 0) when
// it is not a regular file.
Result<std::optional<FileEntry>> HashOpenFile(int fd, const std::string& what) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Status::IoError("cannot stat " + what + ": " + std::strerror(errno));
  FileEntry e;
  if (!S_ISREG(st.st_mode)) {
    e.mode = 0;  // a folder or special file where a file was: never equal to any blob entry
    return std::optional<FileEntry>(e);
  }
  auto oid = HashBlobStream(fd, st.st_size, what);
  if (!oid.ok()) return oid.status();
  e.mode = BlobModeOf(st.st_mode);
  e.oid = *oid;
  return std::optional<FileEntry>(e);
}

}  // namespace

uint32_t BlobModeOf(mode_t st_mode) {
  return (st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

Result<std::string> ReadLocalFile(const std::string& path, uint64_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  return ReadOpenFile(fd.get(), path, limit);
}

Result<std::optional<FileEntry>> HashLocalFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileEntry>();
    if (errno != ELOOP) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
    FileEntry link;
    link.mode = 0;
    return std::optional<FileEntry>(link);
  }
  return HashOpenFile(fd.get(), path);
}

Result<std::optional<FileEntry>> HashBeneath(int folder_fd, const std::string& rel) {
  UniqueFd fd(OpenBeneath(folder_fd, rel, O_RDONLY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileEntry>();
    if (errno != ELOOP && errno != EXDEV) return Status::IoError("cannot open " + rel + ": " + std::strerror(errno));
    FileEntry link;  // a symlink there or on the way
    link.mode = 0;
    return std::optional<FileEntry>(link);
  }
  return HashOpenFile(fd.get(), rel);
}

bool ParentsAreRealFolders(const std::string& folder, const std::string& path) {
  auto root = OpenFolder(folder);
  if (!root.ok()) return false;
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root->get(), path, &leaf));
  return parent || errno == ENOENT;  // a missing folder is created later as a real one
}

}  // namespace gitsyncd
