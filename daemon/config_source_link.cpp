#include "daemon/config_source_link.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "config/config_loader.h"
#include "config/config_source.h"

namespace gitsyncd {
namespace {

constexpr size_t kListedProblems = 10;  // a refusal's message stays readable in `status`

}  // namespace

decltype(BindingSpec::check_tree) ConfigSourceCheck(const std::string& config_dir) {
  return [config_dir](const std::string& tree_dir, RefusalRecord* refused) {
    ConfigLoadResult r = LoadConfig(config_dir, tree_dir);
    if (r.ok()) return Status::Ok();
    refused->kind = "check";
    refused->file = r.errors.front().where.file;
    refused->line = r.errors.front().where.line;
    std::string message = "check-config found " + std::to_string(r.errors.size()) +
                          (r.errors.size() == 1 ? " problem: " : " problems: ");
    for (size_t i = 0; i < r.errors.size() && i < kListedProblems; ++i) {
      message += (i == 0 ? "" : "; ") + r.errors[i].ToString();
    }
    if (r.errors.size() > kListedProblems) message += "; ...";
    return Status::InvalidArgument(message + " (the running config stays in force)");
  };
}

bool ConfigSourceApplied(const PassEvent& e) {
  return e.binding == kConfigSourceName && e.ok && (e.direction == "pull" || e.direction == "merge");
}

void RequestReload() {
  // Every thread blocks SIGHUP; the main thread takes it with sigtimedwait (cmd_run.cpp).
  if (::kill(::getpid(), SIGHUP) != 0) spdlog::error("config source: cannot request a reload");
}

}  // namespace gitsyncd
