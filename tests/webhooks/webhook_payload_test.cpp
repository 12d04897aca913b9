// Reading real provider payloads (tests/fixtures/webhooks, provenance in SOURCES.md) and
// checking their signatures, including the published Bitbucket Cloud HMAC test vector.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/support/temp_dir.h"
#include "webhooks/payload_parser.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

std::string Fixture(const std::string& name) {
  return ReadFile(RequiredEnv("GITSYNCD_TEST_DATA") + "/fixtures/webhooks/" + name);
}

PushEvent Parse(WebhookFormat f, const std::string& event, const std::string& file) {
  auto r = ParsePushEvent(f, event, Fixture(file));
  BOOST_REQUIRE_MESSAGE(r.ok(), file + ": " + r.status().message());
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formats)

BOOST_AUTO_TEST_CASE(headers_tell_the_sender) {
  BOOST_TEST((DetectFormat({{"x-github-event", "push"}}) == WebhookFormat::kGitHub));
  BOOST_TEST((DetectFormat({{"x-gitlab-event", "Push Hook"}}) == WebhookFormat::kGitLab));
  BOOST_TEST((DetectFormat({{"x-event-key", "repo:push"}, {"x-request-uuid", "u"}}) == WebhookFormat::kBitbucketCloud));
  BOOST_TEST((DetectFormat({{"x-event-key", "repo:refs_changed"}, {"x-request-id", "i"}}) ==
              WebhookFormat::kBitbucketServer));
  BOOST_TEST((DetectFormat({{"x-event-key", "diagnostics:ping"}}) == WebhookFormat::kBitbucketServer));
  // The Post Webhooks app's headers (jenkinsci/bitbucket-branch-source-plugin, HookProcessorTestUtil).
  BOOST_TEST((DetectFormat({{"x-event-key", "repo:push"}, {"x-bitbucket-type", "server"}}) ==
              WebhookFormat::kBitbucketPostPlugin));
  BOOST_TEST((DetectFormat({{"content-type", "application/json"}}) == WebhookFormat::kAzureDevOps));
}

BOOST_AUTO_TEST_CASE(content_types) {
  BOOST_TEST((ClassifyContentType("application/json; charset=utf-8") == BodyEncoding::kJson));
  BOOST_TEST((ClassifyContentType("Application/JSON") == BodyEncoding::kJson));
  BOOST_TEST((ClassifyContentType("application/x-www-form-urlencoded") == BodyEncoding::kForm));
  BOOST_TEST((ClassifyContentType("text/plain") == BodyEncoding::kOther));
  BOOST_TEST((ClassifyContentType("") == BodyEncoding::kOther));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(payloads)

BOOST_AUTO_TEST_CASE(github_push_and_ping) {
  PushEvent e = Parse(WebhookFormat::kGitHub, "push", "github-push.json");
  BOOST_TEST(e.push);
  BOOST_TEST(e.repo_full_name == "binkkatal/sample_app");
  BOOST_TEST(e.repo_name == "sample_app");
  BOOST_REQUIRE(e.changes.size() == 1u);
  BOOST_TEST(e.changes[0].branch == "master");
  BOOST_TEST(e.changes[0].before == "737d38c599c1b2991664dfc6155d6bf516fcce36");
  BOOST_TEST(e.changes[0].after == "fd489864e7642b48eaad6e3f155c10e46810ec72");
  BOOST_TEST(!e.changes[0].created);
  BOOST_TEST(!e.changes[0].deleted);

  PushEvent ping = Parse(WebhookFormat::kGitHub, "ping", "github-ping.json");
  BOOST_TEST(ping.ping);
  BOOST_TEST(!ping.push);
}

BOOST_AUTO_TEST_CASE(github_form_encoded_body_carries_the_same_payload) {
  std::string json = Fixture("github-push.json");
  std::string form = "payload=";
  for (unsigned char c : json) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      form += static_cast<char>(c);
    } else if (c == ' ') {
      form += '+';
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      form += hex;
    }
  }
  auto text = FormPayload(form);
  BOOST_REQUIRE(text.ok());
  BOOST_TEST(*text == json);
  BOOST_TEST(!FormPayload("other=1").ok());
}

BOOST_AUTO_TEST_CASE(bitbucket_cloud_push_forced_and_created) {
  PushEvent e = Parse(WebhookFormat::kBitbucketCloud, "repo:push", "bitbucket-cloud-repo_push.json");
  BOOST_TEST(e.repo_full_name == "amuniz/test-repos");
  BOOST_REQUIRE(e.changes.size() == 1u);
  BOOST_TEST(e.changes[0].branch == "feature/issue-819");
  BOOST_TEST(e.changes[0].forced);
  BOOST_TEST(e.changes[0].after == "5ecffa3874e96920f24a2b3c0d0038e47d5cd1a4");

  PushEvent created = Parse(WebhookFormat::kBitbucketCloud, "repo:push", "bitbucket-cloud-repo_push-signed.json");
  BOOST_TEST(created.changes.at(0).created);
  BOOST_TEST(created.changes.at(0).branch == "feature/webhook");
  BOOST_TEST(created.changes.at(0).before == "");

  PushEvent older = Parse(WebhookFormat::kBitbucketCloud, "repo:push", "bitbucket-cloud-repo_push-2.json");
  BOOST_TEST(older.repo_full_name == "team_name/repo_name");
  BOOST_TEST(older.changes.at(0).branch == "name-of-branch");
}

BOOST_AUTO_TEST_CASE(bitbucket_server_update_delete_and_ping) {
  PushEvent e = Parse(WebhookFormat::kBitbucketServer, "repo:refs_changed", "bitbucket-server-repo_refs_changed.json");
  BOOST_TEST(e.repo_full_name == "AMUNIZ/test-repos");
  BOOST_TEST(e.changes.at(0).branch == "main");
  BOOST_TEST(e.changes.at(0).after == "9fdd7b96d3f5c276d0b9e0bf38c879eb112d889a");
  BOOST_TEST(!e.changes.at(0).deleted);

  PushEvent del = Parse(WebhookFormat::kBitbucketServer, "repo:refs_changed",
                        "bitbucket-server-repo_refs_changed-delete.json");
  BOOST_TEST(del.repo_full_name == "~gopher/webhook-test");
  BOOST_TEST(del.changes.at(0).branch == "feature/wip");
  BOOST_TEST(del.changes.at(0).deleted);

  PushEvent ping = Parse(WebhookFormat::kBitbucketServer, "diagnostics:ping", "bitbucket-server-diagnostics_ping.json");
  BOOST_TEST(ping.ping);
}

BOOST_AUTO_TEST_CASE(post_webhooks_plugin_update_created_deleted) {
  PushEvent e = Parse(WebhookFormat::kBitbucketPostPlugin, "repo:push", "bitbucket-postwebhooks-repo_push.json");
  BOOST_TEST(e.repo_full_name == "PROJECT_1/rep_1");
  BOOST_TEST(e.changes.at(0).branch == "test-webhook");
  BOOST_TEST(e.changes.at(0).before == "417b2f673581ee6000e260a5fa65e62b56c7a3cd");
  BOOST_TEST(e.changes.at(0).after == "c0158b3e6c8cecf3bddc39d20957a98660cd23fd");
  BOOST_TEST(Parse(WebhookFormat::kBitbucketPostPlugin, "repo:push", "bitbucket-postwebhooks-repo_push-created.json")
                 .changes.at(0)
                 .created);
  PushEvent del = Parse(WebhookFormat::kBitbucketPostPlugin, "repo:push", "bitbucket-postwebhooks-repo_push-deleted.json");
  BOOST_TEST(del.changes.at(0).deleted);
  BOOST_TEST(del.changes.at(0).branch == "test-webhook");
}

BOOST_AUTO_TEST_CASE(gitlab_push_old_and_current_samples) {
  for (const char* file : {"gitlab-push_hook.json", "gitlab-push_hook-docs.json"}) {
    PushEvent e = Parse(WebhookFormat::kGitLab, "Push Hook", file);
    BOOST_TEST(e.repo_full_name == "mike/diaspora", file);
    BOOST_TEST(e.changes.at(0).branch == "master");
    BOOST_TEST(e.changes.at(0).after == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  }
}

BOOST_AUTO_TEST_CASE(azure_devops_push_takes_event_and_id_from_the_body) {
  PushEvent e = Parse(WebhookFormat::kAzureDevOps, "", "azure-devops-git.push.json");
  BOOST_TEST(e.event == "git.push");
  BOOST_TEST(e.delivery_id == "03c164c2-8912-4d5e-8009-3707d5f83734");
  BOOST_TEST(e.repo_full_name == "Fabrikam-Fiber-Git/Fabrikam-Fiber-Git");
  BOOST_TEST(e.changes.at(0).branch == "main");
  BOOST_TEST(e.changes.at(0).after == "33b55f7cb7e7e245323987634f960cf4a6e6bc74");
  // The current docs sample has GUID placeholders where commit ids belong: still readable.
  PushEvent docs = Parse(WebhookFormat::kAzureDevOps, "", "azure-devops-git.push-docs2024.json");
  BOOST_TEST(docs.push);
  BOOST_TEST(!docs.changes.at(0).deleted);
}

BOOST_AUTO_TEST_CASE(broken_payloads_are_named_errors) {
  auto truncated = Fixture("github-push.json");
  truncated.resize(truncated.size() / 2);
  auto r = ParsePushEvent(WebhookFormat::kGitHub, "push", truncated);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("malformed JSON at byte") == 0u, r.status().message());

  std::string deep(100000, '[');
  r = ParsePushEvent(WebhookFormat::kGitHub, "push", deep);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("nested deeper than 64 levels") != std::string::npos, r.status().message());

  r = ParsePushEvent(WebhookFormat::kGitHub, "push", "[1,2]");
  BOOST_TEST(r.status().message() == "payload is not a JSON object");
  r = ParsePushEvent(WebhookFormat::kGitHub, "push", "{\"ref\": 5}");
  BOOST_TEST(r.status().message() == "GitHub push payload has no 'ref'");
  r = ParsePushEvent(WebhookFormat::kGitHub, "push", "{} trailing");
  BOOST_TEST(!r.ok());
  r = ParsePushEvent(WebhookFormat::kBitbucketCloud, "repo:push", "{\"push\": {\"changes\": [{}]}}");
  BOOST_TEST(r.status().message() == "Bitbucket Cloud push change has neither 'new' nor 'old'");
  r = ParsePushEvent(WebhookFormat::kAzureDevOps, "", "{\"a\": 1}");
  BOOST_TEST(r.status().message().find("no provider event header") == 0u);
  // Wrong types anywhere are errors, never crashes.
  r = ParsePushEvent(WebhookFormat::kBitbucketServer, "repo:refs_changed", "{\"changes\": [1, \"x\", null]}");
  BOOST_TEST(!r.ok());
  r = ParsePushEvent(WebhookFormat::kGitLab, "Push Hook", "{\"ref\": \"refs/heads/m\", \"project\": []}");
  BOOST_TEST(r.status().message() == "GitLab push payload has no 'project.path_with_namespace'");
}

// ParsePushEvent keeps only the members the readers use (a filter over the token stream);
// the full-document parse is the reference: both must give the same facts, or the same
// error, for every fixture read as every sender format, for truncations of them, and for
// hostile shapes (duplicate keys, wrong types, escapes, long keys, deep skipped members).
BOOST_AUTO_TEST_CASE(filtered_parse_gives_the_same_facts_as_the_full_document) {
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(RequiredEnv("GITSYNCD_TEST_DATA") + "/fixtures/webhooks")) {
    if (entry.path().extension() != ".json") continue;
    std::string text = ReadFile(entry.path().string());
    inputs.push_back(text);
    for (size_t cut : {size_t{1}, text.size() / 7, text.size() / 3, text.size() / 2, text.size() - 2}) {
      inputs.push_back(text.substr(0, cut));
    }
  }
  std::string deep_skipped = "{\"a\":" + std::string(60, '[') + std::string(60, ']') + ",\"ref\":\"refs/heads/m\"}";
  std::string too_deep = "{\"a\":" + std::string(70, '[') + std::string(70, ']') + ",\"ref\":\"refs/heads/m\"}";
  inputs.insert(inputs.end(), {
      R"({"ref":"refs/heads/a","ref":"refs/heads/b","repository":{"name":"x"},"repository":{"full_name":"o/y"}})",
      R"({"ref":"refs/heads/m","forced":true,"created":true,"deleted":false,"repository":{"name":"n"}})",
      R"({"ref":"refs/heads/a","before":null,"after":"0000","created":1,"deleted":true,"forced":"yes","repository":[]})",
      R"({"r\u0065f":"refs/heads/\u00e9t\u00e9","repository":{"full_name":"o/n\"q","name":{"x":1}}})",
      R"({"push":{"changes":[{"new":null,"old":{"type":"branch","name":"m","target":{"hash":"1"}}},5,[],{"new":"s"}]},"repository":{"full_name":"a/b"}})",
      R"({"push":{"changes":[{"new":{"type":"tag","name":"v1","target":{"hash":"2"}},"old":null,"created":true,"closed":false,"forced":true}]},"push":{"changes":[]},"repository":{"full_name":"a/b","fullName":"A/B","slug":"b"}})",
      R"({"changes":[[{"refId":"refs/heads/x"}]],"repository":{"slug":"s"}})",
      R"({"changes":[{"refId":"refs/heads/x","type":"ADD","ref":{"type":"TAG","id":"refs/tags/x"},"fromHash":"00","toHash":"ab"},{"ref":{"id":"refs/heads/y"},"type":"DELETE"}],"repository":{"slug":"s","project":{"key":"P"}}})",
      R"({"ref":"refs/heads/m","before":"a","after":"b","project":{"path_with_namespace":"g/s/n","path":"n","name":"N"}})",
      R"({"ref":"refs/heads/m","project":{"name":"N","path_with_namespace":"g/n"}})",
      R"({"eventType":"git.push","id":"x","resource":{"refUpdates":[{"name":"refs/heads/m","oldObjectId":"0000","newObjectId":"12"},{"name":"refs/tags/t"}],"repository":{"name":"r","project":{"name":"p"}}}})",
      R"({"eventType":"git.pullrequest.created","id":"y"})",
      R"({"eventType":"git.push","resource":{"refUpdates":{"name":"x"}}})",
      "{\"" + std::string(100, 'k') + "\":1,\"ref\":\"refs/heads/m\",\"repository\":{\"name\":\"n\"}}",
      deep_skipped, too_deep,
      "[1,2]", "\"text\"", "5", "null", "", " ", "{} x", "{}{}", "{}  \n", "{\"ref\": 1e400}", "{\"ref\": \"\xff\"}",
      "{\"ref\":\"refs/heads/m\" /* c */}", "{\"ref\":-0.5e-3,\"after\":18446744073709551615,\"before\":-9223372036854775808}",
  });
  const std::pair<WebhookFormat, std::vector<std::string>> formats[] = {
      {WebhookFormat::kGitHub, {"push", "ping", "issues"}},
      {WebhookFormat::kBitbucketCloud, {"repo:push", "repo:fork"}},
      {WebhookFormat::kBitbucketServer, {"repo:refs_changed", "diagnostics:ping", "pr:opened"}},
      {WebhookFormat::kBitbucketPostPlugin, {"repo:push"}},
      {WebhookFormat::kGitLab, {"Push Hook", "Tag Push Hook"}},
      {WebhookFormat::kAzureDevOps, {""}},
  };
  int compared = 0;
  for (const auto& text : inputs) {
    for (const auto& [format, events] : formats) {
      for (const auto& event : events) {
        auto fast = ParsePushEvent(format, event, text);
        auto full = ParsePushEventFullDocument(format, event, text);
        std::string where = std::string(WebhookFormatName(format)) + " " + event + " on " + text.substr(0, 80);
        BOOST_REQUIRE_MESSAGE(fast.ok() == full.ok(), where + ": " + (fast.ok() ? full : fast).status().message());
        ++compared;
        if (!fast.ok()) {
          BOOST_TEST(fast.status().message() == full.status().message(), where);
          continue;
        }
        BOOST_TEST(fast->event == full->event, where);
        BOOST_TEST(fast->delivery_id == full->delivery_id, where);
        BOOST_TEST(fast->ping == full->ping, where);
        BOOST_TEST(fast->push == full->push, where);
        BOOST_TEST(fast->repo_full_name == full->repo_full_name, where);
        BOOST_TEST(fast->repo_name == full->repo_name, where);
        BOOST_REQUIRE_MESSAGE(fast->changes.size() == full->changes.size(), where);
        for (size_t i = 0; i < fast->changes.size(); ++i) {
          const RefChange &a = fast->changes[i], &b = full->changes[i];
          BOOST_TEST(a.ref == b.ref, where);
          BOOST_TEST(a.branch == b.branch, where);
          BOOST_TEST(a.before == b.before, where);
          BOOST_TEST(a.after == b.after, where);
          BOOST_TEST(a.created == b.created, where);
          BOOST_TEST(a.deleted == b.deleted, where);
          BOOST_TEST(a.forced == b.forced, where);
        }
      }
    }
  }
  BOOST_TEST(compared > 1000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signatures)

// Published vector: jenkinsci/bitbucket-branch-source-plugin AbstractWebhookProcessorTest.
const char* kVectorSecret = "Gkvl$k$wyNpQAF42";
const char* kVectorSignature = "sha256=f205c729821c6954aff2afe72b965c34015b4baf96ea8ddc2cc44999c014a035";

BOOST_AUTO_TEST_CASE(bitbucket_cloud_published_test_vector) {
  std::string body = Fixture("bitbucket-cloud-repo_push-signed.json");
  BOOST_REQUIRE(body.size() == 14515u);
  BOOST_TEST("sha256=" + HmacHex(kVectorSecret, body) == kVectorSignature);
  WebhookVerifier v({kVectorSecret, false, {}});
  HeaderMap h{{"x-event-key", "repo:push"}, {"x-hub-signature", kVectorSignature}};
  BOOST_TEST(v.Verify(WebhookFormat::kBitbucketCloud, "repo:push", h, body).accepted);
  body[100] ^= 1;
  Verification bad = v.Verify(WebhookFormat::kBitbucketCloud, "repo:push", h, body);
  BOOST_TEST(!bad.accepted);
  BOOST_TEST(bad.why == "X-Hub-Signature does not match the body signed with webhook.secret");
}

BOOST_AUTO_TEST_CASE(bitbucket_server_signed_delete) {
  std::string body = Fixture("bitbucket-server-repo_refs_changed-signed.json");
  WebhookVerifier v({kVectorSecret, false, {}});
  HeaderMap h{{"x-hub-signature", "sha256=4ffba9e7b58ea3d7e1a230446e8c92baea0aeec89b73f598932387254f0de13e"}};
  BOOST_TEST(v.Verify(WebhookFormat::kBitbucketServer, "repo:refs_changed", h, body).accepted);
  // The unsigned "Test connection" ping is answered; an unsigned push is not.
  BOOST_TEST(v.Verify(WebhookFormat::kBitbucketServer, "diagnostics:ping", {}, "{\"test\": true}").accepted);
  BOOST_TEST(!v.Verify(WebhookFormat::kBitbucketServer, "repo:refs_changed", {}, body).accepted);
}

BOOST_AUTO_TEST_CASE(github_sha256_required_sha1_only_if_allowed) {
  std::string body = Fixture("github-push.json");
  std::string secret = "gh-hook-secret";
  WebhookVerifier strict({secret, false, {}});
  HeaderMap sha256{{"x-hub-signature-256", "sha256=" + HmacHex(secret, body)}};
  BOOST_TEST(strict.Verify(WebhookFormat::kGitHub, "push", sha256, body).how == "hmac-sha256");
  HeaderMap sha1{{"x-hub-signature", "sha1=" + HmacHex(secret, body, true)}};
  Verification refused = strict.Verify(WebhookFormat::kGitHub, "push", sha1, body);
  BOOST_TEST(!refused.accepted);
  BOOST_TEST(refused.why == "signed only with SHA-1 (X-Hub-Signature); refused unless webhook.allow_sha1 is true");
  WebhookVerifier lenient({secret, true, {}});
  BOOST_TEST(lenient.Verify(WebhookFormat::kGitHub, "push", sha1, body).how == "hmac-sha1");
  HeaderMap forged{{"x-hub-signature-256", "sha256=" + HmacHex("other", body)}};
  BOOST_TEST(!strict.Verify(WebhookFormat::kGitHub, "push", forged, body).accepted);
  BOOST_TEST(strict.Verify(WebhookFormat::kGitHub, "push", {}, body).why ==
             "no X-Hub-Signature-256 header, but webhook.secret is set");
  // Without a secret, the URL token is the only check.
  BOOST_TEST(WebhookVerifier({}).Verify(WebhookFormat::kGitHub, "push", {}, body).how == "unsigned (no webhook.secret)");
}

BOOST_AUTO_TEST_CASE(gitlab_token_and_azure_basic_auth) {
  WebhookVerifier v({"tok-123", false, {}});
  BOOST_TEST(v.Verify(WebhookFormat::kGitLab, "Push Hook", {{"x-gitlab-token", "tok-123"}}, "{}").accepted);
  BOOST_TEST(!v.Verify(WebhookFormat::kGitLab, "Push Hook", {{"x-gitlab-token", "tok-12"}}, "{}").accepted);
  BOOST_TEST(!v.Verify(WebhookFormat::kGitLab, "Push Hook", {}, "{}").accepted);
  // "hook:tok-123" in base64
  BOOST_TEST(v.Verify(WebhookFormat::kAzureDevOps, "", {{"authorization", "Basic aG9vazp0b2stMTIz"}}, "{}").accepted);
  // "hook:wrong"
  BOOST_TEST(!v.Verify(WebhookFormat::kAzureDevOps, "", {{"authorization", "Basic aG9vazp3cm9uZw=="}}, "{}").accepted);
  BOOST_TEST(!v.Verify(WebhookFormat::kAzureDevOps, "", {{"authorization", "Basic !!!"}}, "{}").accepted);
  BOOST_TEST(!v.Verify(WebhookFormat::kAzureDevOps, "", {}, "{}").accepted);
}

// The verifier hashes each connector's key once and reuses the states: it must agree with
// OpenSSL's one-shot HMAC for keys shorter than, as long as and longer than the block.
BOOST_AUTO_TEST_CASE(prepared_hmac_keys_agree_with_one_shot_hmac) {
  std::string body = Fixture("github-push.json");
  for (size_t key_size : {1, 20, 63, 64, 65, 200}) {
    std::string secret(key_size, 'k');
    for (size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<char>('a' + (i * 7) % 26);
    WebhookVerifier v({secret, true, {}});
    for (std::string text : {std::string(), std::string("x"), std::string(64, 'y'), body}) {
      std::string sig = HmacHex(secret, text);
      HeaderMap h{{"x-hub-signature-256", "sha256=" + sig}};
      BOOST_TEST(v.Verify(WebhookFormat::kGitHub, "push", h, text).accepted, key_size);
      std::string upper = sig;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      h["x-hub-signature-256"] = "sha256=" + upper;
      BOOST_TEST(v.Verify(WebhookFormat::kGitHub, "push", h, text).accepted, key_size);
      h["x-hub-signature-256"] = "sha256=" + sig.substr(0, 62);
      BOOST_TEST(!v.Verify(WebhookFormat::kGitHub, "push", h, text).accepted);
      h["x-hub-signature-256"] = "sha256=" + sig.substr(0, 63) + "g";
      BOOST_TEST(!v.Verify(WebhookFormat::kGitHub, "push", h, text).accepted);
      HeaderMap sha1{{"x-hub-signature", "sha1=" + HmacHex(secret, text, true)}};
      BOOST_TEST(v.Verify(WebhookFormat::kGitHub, "push", sha1, text).how == "hmac-sha1", key_size);
      sha1["x-hub-signature"] = "sha1=" + HmacHex(secret + "x", text, true);
      BOOST_TEST(!v.Verify(WebhookFormat::kGitHub, "push", sha1, text).accepted);
    }
  }
}

BOOST_AUTO_TEST_CASE(constant_time_equality_is_equality) {
  BOOST_TEST(ConstantTimeEquals("abc", "abc"));
  BOOST_TEST(!ConstantTimeEquals("abc", "abd"));
  BOOST_TEST(!ConstantTimeEquals("abc", "abcd"));
  BOOST_TEST(ConstantTimeEquals("", ""));
}

BOOST_AUTO_TEST_SUITE_END()
