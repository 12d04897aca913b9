// Commit messages against real remotes (file:// and the nginx HTTPS server) with a server-side
// pre-receive hook that requires a ticket key in every pushed commit's title, as some
// operators' servers do: the default message is refused and nothing is lost; the template
// lands.
#include <boost/test/unit_test.hpp>

#include "config/commit_message.h"
#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

// Refuses a push when any new commit's title does not start with a ticket key.
const char* kTicketHook = R"SH(#!/bin/sh
zero=0000000000000000000000000000000000000000
while read old new ref; do
  [ "$new" = "$zero" ] && continue
  if [ "$old" = "$zero" ]; then range="$new --not --all"; else range="$old..$new"; fi
  for c in $(git rev-list $range); do
    if ! git log -1 --format=%s "$c" | grep -qE '^OPS-[0-9]+ '; then
      echo "commit $c: the title must start with a ticket key (OPS-123)" >&2
      exit 1
    fi
  done
done
)SH";

std::string Title(const std::string& bare, const std::string& rev = "main") {
  std::string s = LogFormat(bare, rev, "%s");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct Seeded : Binding {
  explicit Seeded(Served served) : Binding(served) {
    person->Write("config/a.yaml", "a: 1\n");
    BOOST_REQUIRE(person->CommitAndPush("seed"));
    Sync();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(commit_messages)

BOOST_AUTO_TEST_CASE(a_hook_requiring_a_ticket_key_refuses_the_default_message_keeps_the_edit_and_takes_the_template) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      InstallServerHook(r.bare, "pre-receive", kTicketHook);
      std::string before = r.RemoteHead();
      r.WriteLocal("a.yaml", "a: 2\n");
      Status refused = r.SyncStatus();
      BOOST_TEST(!refused.ok());
      BOOST_TEST(refused.message().find("pre-receive hook declined") != std::string::npos, refused.message());
      // Nothing lost: the edit is still in the folder and pending, and the error is shown.
      BOOST_TEST(r.RemoteHead() == before);
      BOOST_TEST(r.Local("a.yaml") == "a: 2\n");
      BOOST_TEST(r.State().pending_local_changes == 1u);
      BOOST_TEST(r.State().last_error.find("pre-receive hook declined") != std::string::npos, r.State().last_error);
      // With a template that carries the key, the same edit lands.
      r.spec.commit_message = "OPS-42 {files} [skip ci]";
      auto pushed = r.Sync();
      BOOST_TEST(pushed.summary.find("pushed") == 0u, pushed.summary);
      BOOST_TEST(r.Remote("config/a.yaml") == "a: 2\n");
      BOOST_TEST(Title(r.bare) == "OPS-42 a.yaml [skip ci]");
      BOOST_TEST(r.State().last_error.empty());
      // A merge pushes two new commits (the local side and the merge): both carry the key.
      r.person->Pull();
      r.person->Write("config/b.yaml", "b: 1\n");
      BOOST_REQUIRE(r.person->CommitAndPush("OPS-7 person adds b"));
      r.WriteLocal("c.yaml", "c: 1\n");
      r.Sync();
      BOOST_TEST(r.Remote("config/c.yaml") == "c: 1\n");
      BOOST_TEST(Title(r.bare) == "OPS-42 c.yaml [skip ci]");
      BOOST_TEST(Title(r.bare, "main^2") == "OPS-42 c.yaml [skip ci]");
    }
  }
}

BOOST_AUTO_TEST_CASE(the_default_message_names_the_changed_files) {
  Seeded r(Served::kFile);
  r.WriteLocal("a.yaml", "a: 2\n");
  r.WriteLocal("new/b.yaml", "b: 1\n");
  r.Sync();
  BOOST_TEST(Title(r.bare) == "gitsyncd app: a.yaml and new/b.yaml");
  for (int i = 0; i < 12; ++i) r.WriteLocal("many/f" + std::to_string(10 + i) + ".txt", "x\n");
  r.Sync();
  BOOST_TEST(Title(r.bare) == "gitsyncd app: many/f10.txt, many/f11.txt, many/f12.txt, many/f13.txt, many/f14.txt, "
                              "many/f15.txt, many/f16.txt, many/f17.txt, many/f18.txt, many/f19.txt and 2 more");
}

BOOST_AUTO_TEST_CASE(every_placeholder_expands_and_the_message_is_capped) {
  Seeded r(Served::kFile);
  r.spec.connector = "Team configs";
  r.spec.commit_message = "{connector}/{binding} on {branch} from {host}: {count} file(s) {{literal}}";
  r.WriteLocal("a.yaml", "a: 3\n");
  r.Sync();
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  BOOST_TEST(Title(r.bare) == "Team configs/app on main from " + std::string(host) + ": 1 file(s) {literal}");
  // 100 files with 200-byte names: the listing alone would be 20 KB.
  r.spec.commit_message = "{files}";
  for (int i = 0; i < 100; ++i) r.WriteLocal(std::to_string(100 + i) + std::string(200, 'n'), "x\n");
  r.Sync();
  std::string whole = LogFormat(r.bare, "main", "%B");
  BOOST_TEST(whole.size() <= kMaxCommitMessageLength + 2);  // git log adds a newline or two
  BOOST_TEST(whole.find("and 90 more") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
