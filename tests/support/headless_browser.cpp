#include "tests/support/headless_browser.h"

#include <stdexcept>

#include "tests/support/temp_dir.h"

namespace gitsyncd::testing {

std::vector<std::string> Chromium(const std::string& profile) {
  return {"chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=5000"};
}

std::string RenderedDom(const std::string& profile, const std::string& url) {
  auto dump = Chromium(profile);
  dump.insert(dump.end(), {"--dump-dom", url});
  CommandResult dom = RunCommand(dump, {}, "", "", 90);
  if (dom.exit_code != 0) throw std::runtime_error("chromium --dump-dom " + url + " failed: " + dom.err);
  return dom.out;
}

}  // namespace gitsyncd::testing
