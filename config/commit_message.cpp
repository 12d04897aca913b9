#include "config/commit_message.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace gitsyncd {
namespace {

constexpr std::array<std::string_view, 6> kPlaceholders = {"binding", "connector", "branch", "host", "files", "count"};

bool Known(std::string_view name) {
  for (auto p : kPlaceholders) {
    if (p == name) return true;
  }
  return false;
}

// At most `limit` bytes of `s`, never ending inside a UTF-8 character.
std::string Cut(std::string s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

std::string FileList(const std::vector<std::string>& files) {
  if (files.empty()) return "no files";
  std::string out;
  size_t named = std::min(files.size(), kMaxFilesNamed);
  for (size_t i = 0; i < named; ++i) {
    if (i > 0) out += (i + 1 == named && named == files.size()) ? " and " : ", ";
    out += files[i];
  }
  if (files.size() > named) out += " and " + std::to_string(files.size() - named) + " more";
  return out;
}

}  // namespace

std::string CommitPlaceholderList() {
  std::string out;
  for (auto p : kPlaceholders) out += (out.empty() ? "{" : ", {") + std::string(p) + "}";
  return out;
}

std::string CommitTemplateProblem(const std::string& text) {
  if (text.size() > kMaxCommitTemplateLength) {
    return "is longer than " + std::to_string(kMaxCommitTemplateLength) + " bytes";
  }
  if (text.empty() || text.find_first_not_of(" \t") == text.find('\n')) return "needs a first line (the commit title)";
  if (text.find('\0') != std::string::npos) return "must not hold a NUL byte";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "{{") == 0 || text.compare(i, 2, "}}") == 0) {
      ++i;
      continue;
    }
    if (text[i] == '}') return "has a '}' without its '{' (write }} for a literal brace)";
    if (text[i] != '{') continue;
    size_t close = text.find('}', i);
    if (close == std::string::npos) return "has a '{' that is never closed (write {{ for a literal brace)";
    std::string name = text.substr(i + 1, close - i - 1);
    if (!Known(name)) return "unknown placeholder {" + name + "}; the placeholders are " + CommitPlaceholderList();
    i = close;
  }
  return "";
}

std::string ExpandCommitMessage(const std::string& text, const CommitMessageValues& v) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "{{") == 0 || text.compare(i, 2, "}}") == 0) {
      out += text[i++];
      continue;
    }
    size_t close = text[i] == '{' ? text.find('}', i) : std::string::npos;
    if (close == std::string::npos) {
      out += text[i];
      continue;
    }
    std::string_view name(text.data() + i + 1, close - i - 1);
    if (name == "binding") out += v.binding;
    else if (name == "connector") out += v.connector;
    else if (name == "branch") out += v.branch;
    else if (name == "host") out += v.host;
    else if (name == "files") out += FileList(v.files);
    else if (name == "count") out += std::to_string(v.files.size());
    i = close;
  }
  return Cut(std::move(out), kMaxCommitMessageLength);
}

std::string CappedCommitMessage(const std::string& title, const std::string& body) {
  return Cut(body.empty() ? title : title + "\n\n" + body, kMaxCommitMessageLength);
}

}  // namespace gitsyncd
