// A second opinion on GitHub's JSON shapes: answers of api.github.com recorded by Octokit
// (tests/fixtures/octokit, see SOURCES.md there) beside tests/support/provider_api_server.py's
// answers to the same requests. What the check pins: every field our reader uses is in the
// real answer with the same JSON type, and the test server's answers carry the real answers'
// fields, so a test passing against it is not passing on a shape GitHub never sends.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <set>

#include "api/https_client.h"
#include "api/provider_api.h"
#include "api/rate_limit.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace json = boost::json;

namespace {

// The recorded answer of `scenario` to `method path`.
json::value Recorded(const std::string& scenario, const std::string& method, const std::string& path,
                     json::object* headers = nullptr) {
  const char* data = std::getenv("GITSYNCD_TEST_DATA");
  BOOST_REQUIRE(data != nullptr);
  json::value all = json::parse(ReadFile(std::string(data) + "/fixtures/octokit/" + scenario + ".json"));
  for (const auto& call : all.as_array()) {
    if (call.at("method").as_string() == method && call.at("path").as_string() == path) {
      if (headers) *headers = call.at("headers").as_object();
      return call.at("response");
    }
  }
  BOOST_FAIL("no recorded " + method + " " + path + " in " + scenario);
  return {};
}

std::set<std::string> Keys(const json::value& v) {
  std::set<std::string> out;
  for (const auto& [k, unused] : v.as_object()) out.insert(std::string(k));
  return out;
}

struct ShapesFixture {
  TempDir dir;
  std::string bare = dir / "hello.git";
  std::unique_ptr<ProviderApiServer> api;
  std::unique_ptr<HttpsClient> client;
  std::string recorded_scopes;
  ShapesFixture() {
    InitBareRepo(bare);
    GitClone person(bare, dir / "person");
    person.Write("README.md", "# hello-world");
    person.Write("docs/a.md", "a\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    json::object headers;
    Recorded("git-refs", "get", "/repos/octokit-fixture-org/git-refs/git/refs/", &headers);
    recorded_scopes = std::string(headers.at("x-oauth-scopes").as_string());
    api = std::make_unique<ProviderApiServer>("tok", std::map<std::string, std::string>{{"acme/hello", bare}},
                                              recorded_scopes.c_str());
    HttpsClientOptions o;
    o.ca_file = api->ca_file();
    o.proxy_from_environment = false;
    client = std::make_unique<HttpsClient>(o);
  }
  json::value Ours(const std::string& path) {
    auto res = client->Get(api->api_url() + path, {{"Authorization", "Bearer tok"}, {"Accept", "application/vnd.github+json"}});
    BOOST_REQUIRE_MESSAGE(res.ok(), res.status().message());
    BOOST_REQUIRE_EQUAL(res->status, 200);
    return json::parse(res->body);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(github_shapes, ShapesFixture)

BOOST_AUTO_TEST_CASE(a_reference_has_the_recorded_shape) {
  json::value real = Recorded("git-refs", "get", "/repos/octokit-fixture-org/git-refs/git/refs/").as_array().at(0);
  json::value ours = Ours("/repos/acme/hello/git/ref/heads/main");
  BOOST_TEST(Keys(ours) == Keys(real));
  BOOST_TEST(Keys(ours.at("object")) == Keys(real.at("object")));
  BOOST_TEST(real.at("object").at("sha").is_string());  // what BranchHead reads
}

BOOST_AUTO_TEST_CASE(a_directory_listing_entry_has_the_recorded_shape) {
  json::value real = Recorded("get-content", "get", "/repos/octokit-fixture-org/hello-world/contents/").as_array().at(0);
  json::value ours = Ours("/repos/acme/hello/contents/?ref=main");
  BOOST_REQUIRE(ours.is_array());
  for (const auto& entry : ours.as_array()) BOOST_TEST(Keys(entry) == Keys(real));
  BOOST_TEST(real.at("type").as_string() == "file");
  BOOST_TEST(real.at("sha").is_string());
}

BOOST_AUTO_TEST_CASE(the_repository_fields_we_read_have_the_recorded_types) {
  json::value real = Recorded("get-repository", "get", "/repos/octokit-fixture-org/hello-world");
  json::value ours = Ours("/repos/acme/hello");
  for (const auto& [k, v] : ours.as_object()) {
    BOOST_REQUIRE_MESSAGE(real.as_object().contains(k), "the test server sends '" << k << "', GitHub does not");
    BOOST_TEST(real.at(k).kind() == v.kind(), k);
  }
  BOOST_TEST(Keys(ours.at("permissions")) == Keys(real.at("permissions")));
}

BOOST_AUTO_TEST_CASE(the_recorded_scope_header_is_read_as_github_writes_it) {
  // A classic token with "admin:org, ..., repo, ..." as GitHub lists it reads the repository,
  // and the recorded answer's headers are not a rate limit.
  ApiTarget t;
  t.provider = Provider::kGitHub;
  t.api_base = api->api_url();
  t.repo = "acme/hello";
  t.token = "tok";
  t.http.ca_file = api->ca_file();
  t.http.proxy_from_environment = false;
  auto reader = MakeProviderApi(t);
  BOOST_REQUIRE(reader.ok());
  auto access = (*reader)->CheckAccess();
  BOOST_REQUIRE_MESSAGE(access.ok(), access.status().message());
  BOOST_TEST(access->scopes == recorded_scopes);
  json::object headers;
  Recorded("git-refs", "get", "/repos/octokit-fixture-org/git-refs/git/refs/", &headers);
  HttpsResponse recorded;
  recorded.status = 200;
  for (const auto& [k, v] : headers) recorded.headers[std::string(k)] = v.is_string() ? std::string(v.as_string()) : json::serialize(v);
  BOOST_TEST(!RateLimitAnswer(Provider::kGitHub, recorded, std::time(nullptr)));
}

BOOST_AUTO_TEST_SUITE_END()
