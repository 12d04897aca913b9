// libFuzzer target for what a client of the operator listener controls: raw bytes go through
// Beast's HTTP/1.1 parser (as on the listener) into OperatorApi::Handle, with and without an
// admin token, against a config with one binding and an engine that is never started (a
// queued pass stays queued). An answer must be a real HTTP status; without a token the
// guarded API only refuses, and a state change that is not JSON never reaches an endpoint. Build with -DGITSYNCD_FUZZ=ON (clang); scripts/fuzz runs it.
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/operator_api.h"

using namespace gitsyncd;
namespace http = boost::beast::http;

namespace {

constexpr char kToken[] = "fuzz-admin-token";

struct Fixture {
  std::shared_ptr<const Config> config;
  std::shared_ptr<SyncEngine> engine;
  OperatorApi open{OperatorAccess{"", {"ops.example"}}, nullptr};
  OperatorApi guarded{OperatorAccess{kToken, {}}, nullptr};

  Fixture() {
    Config c;
    c.daemon.state_dir = "/nonexistent/gitsyncd-fuzz-state";
    ConnectorConfig con;
    con.name = "fuzz";
    con.provider = Provider::kGit;
    SyncBinding b;
    b.name = "app";
    b.branch = "main";
    b.local = "/nonexistent/gitsyncd-fuzz-app";
    b.remote_url = "https://git.example.com/org/repo.git";
    con.syncs.push_back(b);
    c.connectors.push_back(con);
    config = std::make_shared<const Config>(c);
    engine = std::make_shared<SyncEngine>(*config, [](const ConnectorConfig&, const SyncBinding&) {
      return Result<RemoteCredentials>(RemoteCredentials{});
    });
    for (OperatorApi* api : {&open, &guarded}) api->Use(config, engine, [] { return WebhookCounters{}; });
  }
};

bool Parse(const uint8_t* data, size_t size, HttpRequest* out) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return false;
  const auto& req = parser.get();
  out->method = std::string(req.method_string());
  out->target = std::string(req.target());
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out->headers.emplace(std::move(name), std::string(f.value()));
  }
  out->body = req.body();
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  HttpRequest r;
  if (!Parse(data, size, &r)) return 0;
  HttpResponse open = f.open.Handle(r);
  HttpResponse guarded = f.guarded.Handle(r);
  for (const HttpResponse* res : {&open, &guarded}) {
    if (res->status < 200 || res->status > 599) __builtin_trap();
  }
  // Without the token, the guarded API answers nothing but refusals.
  if (r.Header("authorization").empty() && guarded.status != 401 && guarded.status != 403) __builtin_trap();
  // A state change that is not JSON never gets past the gate.
  std::string type = r.Header("content-type");
  for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (r.method != "GET" && r.method != "HEAD" && type.find("application/json") == std::string::npos &&
      open.status != 403 && open.status != 415) {
    __builtin_trap();
  }
  return 0;
}
