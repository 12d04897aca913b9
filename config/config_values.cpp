#include "config/config_values.h"

#include <filesystem>

#include "config/text.h"

namespace gitsyncd {

std::optional<uint64_t> MaxFileSize(YamlMap& m, ErrorSink* sink) {
  auto v = m.Size("max_file_size");
  if (v && (*v < kMinMaxFileSize || *v > kMaxMaxFileSize)) {
    sink->Add(m.Get("max_file_size"), m.KeyPath("max_file_size"), "must be between 1KiB and 1GiB");
    return std::nullopt;
  }
  return v;
}

void LoadFolderList(const YAML::Node& node, const std::string& key, ErrorSink* sink, std::vector<std::string>* out) {
  if (!node.IsSequence()) return sink->Add(node, key, "must be a list of absolute paths");
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item = key + "[" + std::to_string(i) + "]";
    if (!node[i].IsScalar() || !std::filesystem::path(node[i].Scalar()).is_absolute()) {
      sink->Add(node[i], item, "must be an absolute path");
    } else if (NormalizeAbsolute(node[i].Scalar()) == "/") {
      sink->Add(node[i], item, "must not be /");
    } else {
      out->push_back(NormalizeAbsolute(node[i].Scalar()));
    }
  }
}

std::string NormalizeAbsolute(const std::string& p) {
  std::string s = std::filesystem::path(p).lexically_normal().string();
  return WithoutTrailingSlashes(s, /*keep_root=*/true);
}

}  // namespace gitsyncd
