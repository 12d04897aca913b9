#include "daemon/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "config/log_context.h"
#include "webhooks/json_text.h"

namespace gitsyncd {
namespace {

// "%^" flag for sd-daemon priorities: <3> err ... <7> debug.
class JournalPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static const char* kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = kPrefix[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<JournalPriorityFlag>();
  }
};

// "%J": the message as a JSON string body (quotes, backslashes and control bytes escaped).
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string quoted;
    AppendJsonString(quoted, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(quoted.data() + 1, quoted.data() + quoted.size() - 1);  // the pattern has the quotes
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<JsonMessageFlag>();
  }
};

// syslog priorities by spdlog level: trace, debug, info, warn, err, critical (off unused).
constexpr int kPriority[] = {7, 7, 6, 4, 3, 2, 6};

// True when stderr is the journal stream systemd connected (JOURNAL_STREAM is "dev:inode" of
// it), not a pipe or file a child process inherited the variable with.
bool StderrIsJournal() {
  const char* journal = std::getenv("JOURNAL_STREAM");
  if (journal == nullptr || *journal == '\0') return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(journal, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

// Sends each line to journald's native socket with structured fields (the thread's
// LogContext), so `journalctl GITSYNCD_BINDING=x` selects one binding. If journald cannot be
// reached, the line goes to stderr with a priority prefix, as the stream would carry it.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const LogContext& context = CurrentLogContext();
    int priority = kPriority[static_cast<int>(msg.level)];
    std::vector<std::string> fields{"MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()),
                                    "PRIORITY=" + std::to_string(priority), "SYSLOG_IDENTIFIER=gitsyncd"};
    if (!context.binding.empty()) fields.push_back("GITSYNCD_BINDING=" + context.binding);
    if (!context.connector.empty()) fields.push_back("GITSYNCD_CONNECTOR=" + context.connector);
    if (!context.commit.empty()) fields.push_back("GITSYNCD_COMMIT=" + context.commit);
    std::vector<iovec> iov;
    for (auto& f : fields) iov.push_back(iovec{f.data(), f.size()});
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) return;
    std::fprintf(stderr, "<%d>%.*s\n", priority, static_cast<int>(msg.payload.size()), msg.payload.data());
  }
  void flush_() override {}
};

}  // namespace

Status SetupLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + level +
                                   "' (use trace, debug, info, warn, error, critical or off)");
  }
  if (format != "json" && StderrIsJournal()) {
    auto logger = std::make_shared<spdlog::logger>("gitsyncd", std::make_shared<JournalSink>());
    logger->set_level(lvl);
    spdlog::set_default_logger(logger);
    return Status::Ok();
  }
  auto logger = std::make_shared<spdlog::logger>("gitsyncd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(
      format == "json" ? spdlog::pattern_time_type::utc : spdlog::pattern_time_type::local);
  const char* journal = std::getenv("JOURNAL_STREAM");
  if (format == "json") {
    formatter->add_flag<JsonMessageFlag>('J').set_pattern(
        "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",\"msg\":\"%J\"}");
  } else if (journal != nullptr && *journal != '\0') {
    formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace gitsyncd
