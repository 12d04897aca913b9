// The scan cache file: one line per file a scan read, so the next scan can skip reading it.
#include <cstdio>
#include <cstring>

#include <cerrno>

#include "sync/folder_tree.h"
#include "sync/git_handles.h"

namespace gitsyncd {

ScanCache LoadScanCache(const std::string& file) {
  ScanCache cache;
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return cache;
  char line[8192];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    // <oid> <size> <mtime_ns> <inode> <mode> <path>
    char hex[GIT_OID_HEXSZ + 1];
    long long size = 0, mtime = 0;
    unsigned long long inode = 0;
    unsigned mode = 0;
    int consumed = 0;
    if (std::sscanf(line, "%40s %lld %lld %llu %o %n", hex, &size, &mtime, &inode, &mode, &consumed) != 5) continue;
    std::string path(line + consumed);
    if (!path.empty() && path.back() == '\n') path.pop_back();
    ScanCacheEntry e{size, mtime, inode, mode, {}};
    if (path.empty() || git_oid_fromstr(&e.oid, hex) < 0) continue;
    cache.entries[path] = e;
  }
  std::fclose(f);
  return cache;
}

Status SaveScanCache(const std::string& file, const ScanCache& cache) {
  std::string tmp = file + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  for (const auto& [path, e] : cache.entries) {
    if (path.find('\n') != std::string::npos) continue;  // cannot be represented; re-read next time
    std::fprintf(f, "%s %lld %lld %llu %o %s\n", OidHex(e.oid).c_str(), static_cast<long long>(e.size),
                 static_cast<long long>(e.mtime_ns), static_cast<unsigned long long>(e.inode), e.mode, path.c_str());
  }
  bool ok = std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) return Status::IoError("cannot save " + file);
  return Status::Ok();
}

}  // namespace gitsyncd
