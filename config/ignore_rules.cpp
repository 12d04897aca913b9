#include "config/ignore_rules.h"

namespace gitsyncd {

const std::vector<DefaultIgnoreRule>& DefaultIgnoreRules() {
  // Files editors and desktops write next to the file being edited: none of them is a
  // configuration file anyone means to sync, and most exist only for seconds.
  static const std::vector<DefaultIgnoreRule> kRules = {
      {".*.sw[a-p]", "vim swap files (.a.yaml.swp, and .swo ... .swa when several exist)"},
      {".*.swx", "vim's probe that the folder is writable"},
      {"4913", "vim's probe that it may create a file in the folder (4913, 5036, ...; 4913 is the first)"},
      {"*~", "backups of vim (backup option), emacs, nano, gedit, kate"},
      {"\\#*#", "emacs auto-save files (#a.yaml#)"},
      {".#*", "emacs lock files (.#a.yaml)"},
      {".*.kate-swp", "Kate swap files"},
      {".~lock.*#", "LibreOffice lock files"},
      {"*___jb_tmp___", "JetBrains IDEs' safe-write temp files"},
      {"*___jb_old___", "JetBrains IDEs' safe-write backups"},
      {"*.tmp", "temp files editors and tools write before renaming them into place"},
      {".DS_Store", "macOS Finder folder settings"},
      {"._*", "macOS resource forks (AppleDouble) on non-Apple filesystems"},
      {"Thumbs.db", "Windows Explorer thumbnail cache"},
      {"ehthumbs.db", "Windows Media Center thumbnail cache"},
  };
  return kRules;
}

std::string IgnoreRuleProblem(const std::string& rule) {
  if (rule.find_first_not_of(" \t") == std::string::npos) return "must not be empty";
  if (rule.find_first_of("\n\r") != std::string::npos || rule.find('\0') != std::string::npos) {
    return "must be one line (one rule per list item)";
  }
  if (rule[0] == '#') return "starts with '#', which makes it a comment; write \\# to match a leading '#'";
  if (rule.size() > kMaxIgnoreRuleLength) return "is longer than " + std::to_string(kMaxIgnoreRuleLength) + " bytes";
  return "";
}

std::vector<std::string> EffectiveIgnoreRules(bool defaults, const std::vector<std::string>& connector,
                                              const std::vector<std::string>& sync) {
  std::vector<std::string> out;
  if (defaults) {
    for (const auto& r : DefaultIgnoreRules()) out.emplace_back(r.pattern);
  }
  out.insert(out.end(), connector.begin(), connector.end());
  out.insert(out.end(), sync.begin(), sync.end());
  return out;
}

}  // namespace gitsyncd
