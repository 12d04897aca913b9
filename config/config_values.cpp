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

std::string NormalizeAbsolute(const std::string& p) {
  std::string s = std::filesystem::path(p).lexically_normal().string();
  return WithoutTrailingSlashes(s, /*keep_root=*/true);
}

}  // namespace gitsyncd
