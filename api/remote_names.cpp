#include "api/remote_names.h"

namespace gitsyncd {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The code point starting at name[i] when it is one HFS+ ignores when comparing names
// (git's next_hfs_char): its byte length, else 0.
size_t HfsIgnorableAt(std::string_view name, size_t i) {
  if (i + 3 > name.size()) return 0;
  auto b0 = static_cast<unsigned char>(name[i]), b1 = static_cast<unsigned char>(name[i + 1]),
       b2 = static_cast<unsigned char>(name[i + 2]);
  if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) return 3;  // U+FEFF
  if (b0 != 0xE2) return 0;
  unsigned cp = 0x2000u | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu);
  if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return 0;
  bool ignorable = (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x206A && cp <= 0x206F);
  return ignorable ? 3 : 0;
}

// ".git" once the code points HFS+ ignores are dropped, in any letter case.
bool IsHfsDotGit(std::string_view name) {
  std::string kept;
  for (size_t i = 0; i < name.size();) {
    if (size_t skip = HfsIgnorableAt(name, i)) {
      i += skip;
      continue;
    }
    kept += Lower(name[i++]);
  }
  return kept == ".git";
}

// What NTFS opens as ".git": ".git" or its short name "git~1" (any case), then only dots and
// spaces up to the end, a backslash or a stream separator ':'.
bool IsNtfsDotGit(std::string_view name) {
  std::string lower;
  for (char c : name) lower += Lower(c);
  size_t rest;
  if (lower.rfind(".git", 0) == 0) rest = 4;
  else if (lower.rfind("git~1", 0) == 0) rest = 5;
  else return false;
  for (; rest < lower.size(); ++rest) {
    char c = lower[rest];
    if (c == '\\' || c == ':') return true;
    if (c != '.' && c != ' ') return false;
  }
  return true;
}


}  // namespace

std::optional<std::string> RemoteNameProblem(std::string_view name) {
  if (name.empty()) return "empty component";
  if (name == "." || name == "..") return "'" + std::string(name) + "' is not a file name";
  if (name.find('/') != std::string_view::npos) return "a '/' inside a name";
  if (name.find('\0') != std::string_view::npos) return "NUL byte";
  if (name.find('\\') != std::string_view::npos) return "backslash (a folder separator on Windows)";
  if (name.size() > kMaxRemoteNameBytes) {
    return "a name of " + std::to_string(name.size()) + " bytes; at most " + std::to_string(kMaxRemoteNameBytes);
  }
  if (IsNtfsDotGit(name) || IsHfsDotGit(name)) return "a name that means .git";
  return std::nullopt;
}

Status UnsafeRemotePath(std::string_view path, const std::string& why) {
  std::string shown;
  for (char c : path.substr(0, 300)) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  if (path.size() > 300) shown += "...";
  return Status::Corrupted("unsafe path '" + shown + "' (" + why + ")");
}

Status CheckRemotePath(std::string_view path) {
  if (path.size() > kMaxRemotePathBytes) {
    return UnsafeRemotePath(path, "longer than " + std::to_string(kMaxRemotePathBytes) + " bytes");
  }
  if (!path.empty() && path.front() == '/') return UnsafeRemotePath(path, "absolute");
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (auto why = RemoteNameProblem(part)) return UnsafeRemotePath(path, *why);
    if (slash == std::string_view::npos) return Status::Ok();
    start = slash + 1;
  }
}

}  // namespace gitsyncd
