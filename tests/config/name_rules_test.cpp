// Git branch name rules (git check-ref-format --branch) and display-name rules.
#include <boost/test/unit_test.hpp>

#include "config/name_rules.h"

using namespace gitsyncd;

BOOST_AUTO_TEST_SUITE(name_rules)

BOOST_AUTO_TEST_CASE(valid_branches_pass) {
  for (const char* b : {"main", "release/2026.11", "feature/a-b_c", "v1.2", "user@host"}) {
    BOOST_TEST(CheckBranchName(b) == "", b);
  }
}

BOOST_AUTO_TEST_CASE(each_ref_format_rule_has_its_message) {
  BOOST_TEST(CheckBranchName("") == "must not be empty");
  BOOST_TEST(CheckBranchName("-x") == "must not start with '-'");
  BOOST_TEST(CheckBranchName("a/") == "must not start or end with '/'");
  BOOST_TEST(CheckBranchName("a.") == "must not end with '.'");
  BOOST_TEST(CheckBranchName("a..b") == "must not contain '..'");
  BOOST_TEST(CheckBranchName("a//b") == "must not contain '//'");
  BOOST_TEST(CheckBranchName("a@{1}") == "must not contain '@{'");
  BOOST_TEST(CheckBranchName("@") == "'@' alone is not a valid branch name");
  BOOST_TEST(CheckBranchName("a b") == "must not contain ' '");
  BOOST_TEST(CheckBranchName("a~1") == "must not contain '~'");
  BOOST_TEST(CheckBranchName("a:b") == "must not contain ':'");
  BOOST_TEST(CheckBranchName("a\tb") == "must not contain control characters");
  BOOST_TEST(CheckBranchName("a/.hidden") == "a path component must not start with '.'");
  BOOST_TEST(CheckBranchName("a/b.lock") == "a path component must not end with '.lock'");
  BOOST_TEST(CheckBranchName("\xff") == "is not valid UTF-8");
}

BOOST_AUTO_TEST_CASE(emoticons_block_is_detected_exactly) {
  BOOST_TEST(ContainsEmoticon("\xF0\x9F\x98\x80"));   // U+1F600, first of the block
  BOOST_TEST(ContainsEmoticon("\xF0\x9F\x99\x8F"));   // U+1F64F, last of the block
  BOOST_TEST(!ContainsEmoticon("\xF0\x9F\x9A\x80"));  // U+1F680 rocket: Transport block
  BOOST_TEST(!ContainsEmoticon("caf\xC3\xA9"));
}

BOOST_AUTO_TEST_CASE(display_names) {
  BOOST_TEST(CheckDisplayName("GitHub platform team") == "");
  BOOST_TEST(CheckDisplayName("cfg_v1.2-x") == "");
  BOOST_TEST(CheckDisplayName(" lead") == "must not start or end with a space");
  BOOST_TEST(CheckDisplayName("a:b") == "contains ':'; only letters, digits, space, '_', '-' and '.' are allowed");
  BOOST_TEST(CheckDisplayName(std::string(101, 'a')) == "is longer than 100 characters");
  BOOST_TEST(CheckDisplayName("\xE2\x82\xAC") == "contains U+20AC; only letters, digits, space, '_', '-' and '.' are allowed");
}

BOOST_AUTO_TEST_CASE(edit_distance_for_hints) {
  BOOST_TEST(EditDistance("brnach", "branch") == 2u);
  BOOST_TEST(EditDistance("provder", "provider") == 1u);
  BOOST_TEST(EditDistance("", "abc") == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
