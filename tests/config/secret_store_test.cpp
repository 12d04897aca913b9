// The encrypted secret store: what a user relies on when keeping tokens on disk.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>

#include "config/config.h"
#include "config/secret_store.h"
#include "tests/support/temp_dir.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

struct StoreFixture {
  TempDir dir;
  std::string key = dir / "keys/master.key";
  std::string store_dir = dir / "secrets";
  SecretStore Open() {
    auto s = SecretStore::Open(key, store_dir);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.status().message());
    return std::move(s).value();
  }
  StoreFixture() { BOOST_REQUIRE(SecretStore::InitKey(key).ok()); }
};

// True when `needle` occurs in any file under `root`.
bool AnyFileContains(const std::string& root, const std::string& needle) {
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && ReadFile(e.path().string()).find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(secret_store, StoreFixture)

BOOST_AUTO_TEST_CASE(round_trip_list_and_remove) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("gh-token", "ghp_secretvalue123").ok());
  BOOST_REQUIRE(s.Set("b.key", "other").ok());
  BOOST_TEST(*s.Get("gh-token") == "ghp_secretvalue123");
  BOOST_TEST((*s.List() == std::vector<std::string>{"b.key", "gh-token"}));
  BOOST_REQUIRE(s.Remove("gh-token").ok());
  BOOST_TEST((*s.List() == std::vector<std::string>{"b.key"}));
  BOOST_TEST(s.Get("gh-token").status().message() ==
             "secret 'gh-token' is not in the store " + store_dir + " (add it with `gitsyncd secret set gh-token`)");
}

BOOST_AUTO_TEST_CASE(no_plaintext_on_disk) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("token", "PLAINTEXT-MARKER-42").ok());
  BOOST_TEST(!AnyFileContains(dir.path(), "PLAINTEXT-MARKER-42"));
}

BOOST_AUTO_TEST_CASE(each_write_uses_a_fresh_nonce) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("t", "same").ok());
  std::string first = ReadFile(store_dir + "/t.secret");
  BOOST_REQUIRE(s.Set("t", "same").ok());
  BOOST_TEST(first != ReadFile(store_dir + "/t.secret"));
}

BOOST_AUTO_TEST_CASE(key_and_secret_files_are_private) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("t", "v").ok());
  struct stat st{};
  BOOST_REQUIRE(::stat(key.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_REQUIRE(::stat((store_dir + "/t.secret").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
}

BOOST_AUTO_TEST_CASE(init_refuses_to_overwrite) {
  std::string before = ReadFile(key);
  Status st = SecretStore::InitKey(key);
  BOOST_TEST(st.message() == "master key " + key +
                                 " already exists; refusing to overwrite it (secrets encrypted with it would "
                                 "become unreadable)");
  BOOST_TEST(ReadFile(key) == before);
}

BOOST_AUTO_TEST_CASE(tampered_file_is_refused) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("t", "value").ok());
  std::string data = ReadFile(store_dir + "/t.secret");
  data[data.size() - 3] ^= 0x01;
  WriteFile(store_dir + "/t.secret", data);
  auto v = s.Get("t");
  BOOST_TEST((v.status().code() == Status::Code::kCorrupted));
  BOOST_TEST(v.status().message() == "secret 't' in " + store_dir +
                                         "/t.secret failed authentication (tampered, or encrypted with another "
                                         "master key)");
}

BOOST_AUTO_TEST_CASE(wrong_master_key_is_refused) {
  {
    SecretStore s = Open();
    BOOST_REQUIRE(s.Set("t", "value").ok());
  }
  fs::remove(key);
  BOOST_REQUIRE(SecretStore::InitKey(key).ok());
  SecretStore other = Open();
  BOOST_TEST((other.Get("t").status().code() == Status::Code::kCorrupted));
}

BOOST_AUTO_TEST_CASE(file_copied_to_another_name_is_refused) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("a", "value-of-a").ok());
  fs::copy_file(store_dir + "/a.secret", store_dir + "/b.secret");
  BOOST_TEST((s.Get("b").status().code() == Status::Code::kCorrupted));
}

BOOST_AUTO_TEST_CASE(group_readable_key_is_refused) {
  fs::permissions(key, fs::perms::owner_read | fs::perms::group_read);
  auto s = SecretStore::Open(key, store_dir);
  BOOST_TEST(s.status().message() == "master key " + key + " is readable by group or others; run: chmod 600 " + key);
}

BOOST_AUTO_TEST_CASE(missing_key_says_how_to_create_it) {
  auto s = SecretStore::Open(dir / "nope.key", store_dir);
  BOOST_TEST(s.status().message() == "master key " + (dir / "nope.key") +
                                         " does not exist (create it with `gitsyncd secret init`)");
}

BOOST_AUTO_TEST_CASE(names_and_sizes_are_limited) {
  SecretStore s = Open();
  BOOST_TEST(s.Set("../escape", "v").message() ==
             "invalid secret name '../escape': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'");
  BOOST_TEST(s.Set("big", std::string(64 * 1024 + 1, 'x')).message() == "secret 'big' is larger than 64 KiB");
  BOOST_TEST(s.Set("empty", "").message() == "secret 'empty' would be empty; refusing");
}

BOOST_AUTO_TEST_CASE(resolve_each_reference_kind) {
  SecretStore s = Open();
  BOOST_REQUIRE(s.Set("tok", "from-store").ok());
  WriteFile(dir / "cfg/pw.txt", "from-file\n");
  ::setenv("GITSYNCD_TEST_SECRET", "from-env", 1);
  ::unsetenv("CREDENTIALS_DIRECTORY");
  SecretRef store_ref{SecretRef::Kind::kStore, "tok", {"c.yaml", 3, 5}};
  SecretRef file_ref{SecretRef::Kind::kFile, "pw.txt", {"c.yaml", 4, 5}};
  SecretRef env_ref{SecretRef::Kind::kEnv, "GITSYNCD_TEST_SECRET", {"c.yaml", 5, 5}};
  BOOST_TEST(*ResolveSecret(store_ref, &s, dir / "cfg") == "from-store");
  BOOST_TEST(*ResolveSecret(file_ref, &s, dir / "cfg") == "from-file");
  BOOST_TEST(*ResolveSecret(env_ref, &s, dir / "cfg") == "from-env");
  ::setenv("CREDENTIALS_DIRECTORY", (dir / "cfg").c_str(), 1);
  BOOST_TEST(*ResolveSecret(file_ref, &s, "/nonexistent") == "from-file");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

// The CLI (no $CREDENTIALS_DIRECTORY) and the service (with one that holds only master.key) read
// a relative {file:} secret from the same place: the config directory.
BOOST_AUTO_TEST_CASE(file_secret_resolves_alike_for_cli_and_service) {
  WriteFile(dir / "cfg/token.txt", "same\n");
  WriteFile(dir / "creds/master.key", "k");
  SecretRef ref{SecretRef::Kind::kFile, "token.txt", {"c.yaml", 4, 5}};
  ::unsetenv("CREDENTIALS_DIRECTORY");
  BOOST_TEST(*ResolveSecret(ref, nullptr, dir / "cfg") == "same");
  ::setenv("CREDENTIALS_DIRECTORY", (dir / "creds").c_str(), 1);
  BOOST_TEST(*ResolveSecret(ref, nullptr, dir / "cfg") == "same");
  BOOST_TEST(SecretFilePath("token.txt", dir / "cfg") == dir / "cfg/token.txt");
  // A credential the unit loads under that name wins.
  WriteFile(dir / "creds/token.txt", "loaded\n");
  BOOST_TEST(*ResolveSecret(ref, nullptr, dir / "cfg") == "loaded");
  ::unsetenv("CREDENTIALS_DIRECTORY");
}

BOOST_AUTO_TEST_CASE(master_key_default_works_with_and_without_systemd_credentials) {
  DaemonConfig d;
  d.state_dir = "/var/lib/gitsyncd";
  d.master_key = "${CREDENTIALS_DIRECTORY:-/etc/gitsyncd}/master.key";
  ::unsetenv("CREDENTIALS_DIRECTORY");
  BOOST_TEST(*MasterKeyPath(d) == "/etc/gitsyncd/master.key");
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/gitsyncd.service", 1);
  BOOST_TEST(*MasterKeyPath(d) == "/run/credentials/gitsyncd.service/master.key");
  d.master_key = "${CREDENTIALS_DIRECTORY}/master.key";
  BOOST_TEST(*MasterKeyPath(d) == "/run/credentials/gitsyncd.service/master.key");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  auto unset = MasterKeyPath(d);
  BOOST_REQUIRE(!unset.ok());
  BOOST_TEST(unset.status().message().find("${CREDENTIALS_DIRECTORY:-/etc/gitsyncd}") != std::string::npos);
  d.master_key = "${CREDENTIALS_DIRECTORY:=x}/k";
  BOOST_TEST(!MasterKeyPath(d).ok());
}

BOOST_AUTO_TEST_CASE(resolve_errors_name_the_place_not_the_value) {
  SecretRef missing_env{SecretRef::Kind::kEnv, "GITSYNCD_TEST_UNSET_VAR", {"c.yaml", 5, 5}};
  ::unsetenv("GITSYNCD_TEST_UNSET_VAR");
  BOOST_TEST(ResolveSecret(missing_env, nullptr, "/").status().message() ==
             "c.yaml:5:5: environment variable GITSYNCD_TEST_UNSET_VAR is not set");
  SecretRef store_ref{SecretRef::Kind::kStore, "tok", {"c.yaml", 3, 5}};
  BOOST_TEST(ResolveSecret(store_ref, nullptr, "/").status().message() ==
             "c.yaml:3:5: secret 'tok' needs the secret store, which is not open (no master key?)");
}

BOOST_AUTO_TEST_SUITE_END()
