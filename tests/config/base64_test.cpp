// Base64 as etcd's gateway, provider APIs and known_hosts need it: RFC 4648's test vectors,
// any byte round-trips, and text that is not padded standard base64 is refused.
#include <boost/test/unit_test.hpp>

#include "config/base64.h"

using namespace gitsyncd;

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(encodes_the_rfc_4648_vectors_with_padding) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    BOOST_TEST(Base64Encode(plain) == coded);
    BOOST_TEST(Base64Decode(coded).value_or("<refused>") == plain);
  }
}

BOOST_AUTO_TEST_CASE(every_byte_value_round_trips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  BOOST_TEST(Base64Decode(Base64Encode(all)).value_or("") == all);
  BOOST_TEST(Base64Encode("\xfb\xff").find_first_of("+/") != std::string::npos);  // the standard alphabet
}

BOOST_AUTO_TEST_CASE(refuses_text_that_is_not_padded_standard_base64) {
  for (const std::string bad : {"Zg", "Zg=", "Zm9v!", "Zm 9v", "Zm9v\n", "-_8=", "Zg==Zg=="}) {
    BOOST_TEST(!Base64Decode(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()
