#include "config/name_rules.h"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "config/text.h"

namespace gitsyncd {
namespace {

constexpr char32_t kEmoticonsFirst = 0x1F600;
constexpr char32_t kEmoticonsLast = 0x1F64F;

// Decodes UTF-8 strictly (no overlongs, no surrogates). nullopt on invalid input.
std::optional<std::u32string> DecodeUtf8(std::string_view s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) return std::nullopt;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 0x2) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

bool IsEmoticon(char32_t cp) { return cp >= kEmoticonsFirst && cp <= kEmoticonsLast; }

// Unicode letter test through glibc's C.UTF-8 locale (always present on Debian).
bool IsLetter(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  static locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8 == static_cast<locale_t>(nullptr)) return false;
  return iswalpha_l(static_cast<wint_t>(cp), utf8) != 0;
}

std::string Describe(char32_t cp) {
  char buf[16];
  snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace

bool ContainsEmoticon(std::string_view utf8) {
  auto cps = DecodeUtf8(utf8);
  return cps && std::any_of(cps->begin(), cps->end(), IsEmoticon);
}

std::string CheckDisplayName(std::string_view name) {
  auto cps = DecodeUtf8(name);
  if (!cps) return "is not valid UTF-8";
  if (cps->empty()) return "must not be empty";
  if (cps->size() > 100) return "is longer than 100 characters";
  if (cps->front() == ' ' || cps->back() == ' ') return "must not start or end with a space";
  for (char32_t cp : *cps) {
    if (IsEmoticon(cp)) {
      return "contains " + Describe(cp) + " from the Emoticons block; emoji are not allowed in names";
    }
    bool ok = IsLetter(cp) || (cp >= '0' && cp <= '9') || cp == ' ' || cp == '_' || cp == '-' || cp == '.';
    if (!ok) {
      std::string shown = cp < 0x80 && cp >= 0x20 ? "'" + std::string(1, static_cast<char>(cp)) + "'" : Describe(cp);
      return "contains " + shown + "; only letters, digits, space, '_', '-' and '.' are allowed";
    }
  }
  return "";
}

std::string CheckBranchName(std::string_view b) {
  if (b.empty()) return "must not be empty";
  auto cps = DecodeUtf8(b);
  if (!cps) return "is not valid UTF-8";
  for (char32_t cp : *cps) {
    if (IsEmoticon(cp)) return "contains " + Describe(cp) + " from the Emoticons block";
  }
  if (b.size() > 255) return "is longer than 255 bytes";
  if (b == "@") return "'@' alone is not a valid branch name";
  if (b.front() == '-') return "must not start with '-'";
  if (b.front() == '/' || b.back() == '/') return "must not start or end with '/'";
  if (b.back() == '.') return "must not end with '.'";
  if (b.find("..") != std::string_view::npos) return "must not contain '..'";
  if (b.find("//") != std::string_view::npos) return "must not contain '//'";
  if (b.find("@{") != std::string_view::npos) return "must not contain '@{'";
  for (char c : b) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "must not contain control characters";
    if (std::string_view(" ~^:?*[\\").find(c) != std::string_view::npos) {
      return std::string("must not contain '") + c + "'";
    }
  }
  // Per component: no leading '.', no ".lock" suffix.
  size_t start = 0;
  while (start <= b.size()) {
    size_t end = b.find('/', start);
    if (end == std::string_view::npos) end = b.size();
    std::string_view comp = b.substr(start, end - start);
    if (!comp.empty() && comp.front() == '.') return "a path component must not start with '.'";
    if (comp.size() >= 5 && comp.substr(comp.size() - 5) == ".lock") {
      return "a path component must not end with '.lock'";
    }
    start = end + 1;
  }
  return "";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string CheckImportName(std::string_view name) {
  std::string base = CheckDisplayName(name);
  if (!base.empty()) return base;
  auto special = [](char c) { return c == ' ' || c == '_' || c == '-' || c == '.'; };
  if (special(name.front()) || special(name.back())) return "must not start or end with a space, '_', '-' or '.'";
  for (size_t i = 1; i < name.size(); ++i) {
    if (special(name[i]) && special(name[i - 1])) return "must not contain two special characters in a row";
  }
  if (name.size() >= 4) {
    if (AsciiLower(std::string(name.substr(name.size() - 4))) == ".git") return "must not end in '.git'";
  }
  return {};
}

}  // namespace gitsyncd
