// libFuzzer target for what a config author (or a file swapped under /etc/gitsyncd) controls:
// the input is gitsyncd.yaml, a NUL byte, then one connectors.d file. Both are written to a
// private directory and loaded with LoadConfig, which must answer with a config or with errors
// that each say something, never crash or hang. Build with -DGITSYNCD_FUZZ=ON (clang);
// scripts/fuzz runs it.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config_loader.h"

using namespace gitsyncd;

namespace {

std::string Dir() {
  static std::string dir = [] {
    std::string tmpl = std::filesystem::temp_directory_path() / "gitsyncd-config-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) __builtin_trap();
    std::filesystem::create_directories(tmpl + "/connectors.d");
    return tmpl;
  }();
  return dir;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string daemon_yaml = input.substr(0, nul);
  std::string connector_yaml = nul == std::string::npos ? "" : input.substr(nul + 1);
  Write(Dir() + "/gitsyncd.yaml", daemon_yaml);
  Write(Dir() + "/connectors.d/fuzz.yaml", connector_yaml);
  ConfigLoadResult r = LoadConfig(Dir());
  for (const auto& e : r.errors) {
    if (e.message.empty()) __builtin_trap();
  }
  return 0;
}
