#include "sync/relay_pack.h"

#include <sodium.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "config/hex.h"
#include "sync/git_handles.h"
#include "sync/repo_maintenance.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

// The MAC's input: a label, then each field as an 8-byte big-endian length and its bytes, so
// no two records encode alike.
std::string MacInput(const RelayRecord& r) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(r.pack.data()), r.pack.size());
  std::string out = "gitsyncd fleet relay v1";
  for (std::string_view f : {std::string_view(r.remote), std::string_view(r.branch), std::string_view(r.base),
                             std::string_view(r.commit),
                             std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)}) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((uint64_t{f.size()} >> shift) & 0xff));
    out.append(f);
  }
  return out;
}

// The store's private folder for a relayed pack being checked, emptied before and after each
// use. It is kept rather than made anew for each pack: on ext4 without a journal every inode
// allocation reads past the recently deleted inodes, and each relay already costs two (the
// pack and its index). Used under the store's lock (AcceptRelayedHead) only.
class StagingDir {
 public:
  explicit StagingDir(const std::string& store_dir) {
    std::string dir = store_dir + "/relay-incoming";
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (fs::is_directory(fs::symlink_status(dir, ec))) path_ = dir;
    Empty();
  }
  ~StagingDir() { Empty(); }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  void Empty() {
    std::error_code ec;
    if (path_.empty()) return;
    for (const auto& e : fs::directory_iterator(path_, ec)) fs::remove_all(e.path(), ec);
  }
  std::string path_;
};

using IndexerPtr = GitPtr<git_indexer, git_indexer_free>;

// The staged pack's base path (without .pack/.idx); the indexer computes every id itself and,
// with no object database, takes no delta against an object outside the pack.
Result<std::string> IndexInto(const std::string& dir, std::string_view pack) {
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  git_indexer* raw = nullptr;
  if (int rc = git_indexer_new(&raw, dir.c_str(), 0, nullptr, &opts); rc < 0) return GitError(rc, "cannot index the relayed pack");
  IndexerPtr indexer(raw);
  git_indexer_progress progress{};
  if (int rc = git_indexer_append(indexer.get(), pack.data(), pack.size(), &progress); rc < 0) {
    return GitError(rc, "relayed pack");
  }
  if (int rc = git_indexer_commit(indexer.get(), &progress); rc < 0) return GitError(rc, "relayed pack");
  return dir + "/pack-" + git_indexer_name(indexer.get());
}

// Whether every object `id` (in `repo`, the pack plus the store) names is in `repo`.
Status Connected(git_repository* repo, git_odb* odb, const git_oid& id) {
  ObjectPtr object;
  git_object* raw = nullptr;
  if (int rc = git_object_lookup(&raw, repo, &id, GIT_OBJECT_ANY); rc < 0) return GitError(rc, "relayed object");
  object.reset(raw);
  auto missing = [&](const git_oid& named) {
    return git_odb_exists(odb, &named) == 1 ? Status::Ok()
                                             : Status::Corrupted("relayed object " + OidHex(id) + " names " + OidHex(named) +
                                                                 ", which neither the pack nor the store holds");
  };
  switch (git_object_type(raw)) {
    case GIT_OBJECT_COMMIT: {
      auto* c = reinterpret_cast<git_commit*>(raw);
      if (Status s = missing(*git_commit_tree_id(c)); !s.ok()) return s;
      for (unsigned i = 0; i < git_commit_parentcount(c); ++i) {
        if (Status s = missing(*git_commit_parent_id(c, i)); !s.ok()) return s;
      }
      return Status::Ok();
    }
    case GIT_OBJECT_TREE: {
      auto* t = reinterpret_cast<git_tree*>(raw);
      for (size_t i = 0; i < git_tree_entrycount(t); ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT) continue;  // a submodule: another repository
        if (Status s = missing(*git_tree_entry_id(e)); !s.ok()) return s;
      }
      return Status::Ok();
    }
    case GIT_OBJECT_TAG: return missing(*git_tag_target_id(reinterpret_cast<git_tag*>(raw)));
    default: return Status::Ok();
  }
}

// Checks every object of the staged pack `base` against the pack and the store's objects.
Status CheckConnected(const std::string& store_dir, const std::string& base) {
  auto pack_only = OpenPacks({base + ".idx"});
  if (!pack_only.ok()) return pack_only.status();
  std::vector<git_oid> ids;
  int rc = git_odb_foreach(
      pack_only->get(), [](const git_oid* id, void* out) { static_cast<std::vector<git_oid>*>(out)->push_back(*id); return 0; },
      &ids);
  if (rc < 0) return GitError(rc, "cannot list the relayed pack");
  auto both = OpenPacks({base + ".idx"}, {store_dir + "/objects"});
  if (!both.ok()) return both.status();
  git_repository* raw = nullptr;
  if ((rc = git_repository_wrap_odb(&raw, both->get())) < 0) return GitError(rc, "cannot read the relayed pack");
  RepositoryPtr repo(raw);
  for (const auto& id : ids) {
    if (Status s = Connected(repo.get(), both->get(), id); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<RelayKey> RelayKey::FromSecret(std::string_view secret, const std::string& where) {
  if (secret.size() < kMinRelayKeyBytes) {
    return Status::InvalidArgument(where + ": the secret must be at least " + std::to_string(kMinRelayKeyBytes) +
                                   " bytes (e.g. `openssl rand -base64 48`)");
  }
  if (sodium_init() < 0) return Status::Internal("libsodium cannot start");
  static constexpr char kLabel[] = "gitsyncd fleet relay key";  // domain separation from other uses
  RelayKey k;
  crypto_generichash(k.key_.data(), k.key_.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     reinterpret_cast<const unsigned char*>(kLabel), sizeof kLabel - 1);
  return k;
}

RelayKey::~RelayKey() { sodium_memzero(key_.data(), key_.size()); }

std::string RelayKey::Mac(const RelayRecord& r) const {
  std::string in = MacInput(r);
  unsigned char mac[crypto_auth_BYTES];
  crypto_auth(mac, reinterpret_cast<const unsigned char*>(in.data()), in.size(), key_.data());
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

bool RelayKey::Verify(const RelayRecord& r, std::string_view mac_hex) const {
  unsigned char mac[crypto_auth_BYTES];
  if (!HexDecode(mac_hex, mac, sizeof mac)) return false;
  std::string in = MacInput(r);
  return crypto_auth_verify(mac, reinterpret_cast<const unsigned char*>(in.data()), in.size(), key_.data()) == 0;
}

Result<std::optional<std::string>> BuildRelayPack(git_repository* repo, const git_oid* base, const git_oid& commit,
                                                  size_t max_bytes) {
  git_revwalk* walk_raw = nullptr;
  if (int rc = git_revwalk_new(&walk_raw, repo); rc < 0) return GitError(rc, "cannot walk the history");
  RevwalkPtr walk(walk_raw);
  if (int rc = git_revwalk_push(walk.get(), &commit); rc < 0) return GitError(rc, "cannot walk from " + OidHex(commit));
  if (base != nullptr) {
    if (int rc = git_revwalk_hide(walk.get(), base); rc < 0) return GitError(rc, "cannot walk past " + OidHex(*base));
  }
  git_packbuilder* pb_raw = nullptr;
  if (int rc = git_packbuilder_new(&pb_raw, repo); rc < 0) return GitError(rc, "cannot start a pack");
  PackbuilderPtr pb(pb_raw);
  git_packbuilder_set_threads(pb.get(), 1);
  if (int rc = git_packbuilder_insert_walk(pb.get(), walk.get()); rc < 0) return GitError(rc, "cannot pack the new objects");
  git_buf buf = GIT_BUF_INIT;
  if (int rc = git_packbuilder_write_buf(&buf, pb.get()); rc < 0) return GitError(rc, "cannot write the pack");
  std::optional<std::string> out;
  if (buf.size <= max_bytes) out = std::string(buf.ptr, buf.size);
  git_buf_dispose(&buf);
  return out;
}

Status IndexRelayPack(const std::string& store_dir, std::string_view pack) {
  StagingDir staging(store_dir);
  if (staging.path().empty()) return Status::IoError("cannot create a folder for a relayed pack in " + store_dir);
  auto staged = IndexInto(staging.path(), pack);
  if (!staged.ok()) return staged.status();
  if (Status s = CheckConnected(store_dir, *staged); !s.ok()) return s;
  std::string name = fs::path(*staged).filename().string();
  std::string dest = store_dir + "/objects/pack/" + name;
  std::error_code ec;
  fs::create_directories(store_dir + "/objects/pack", ec);
  // The pack before its index: a pack without an index is invisible to every reader.
  fs::rename(*staged + ".pack", dest + ".pack", ec);
  if (!ec) fs::rename(*staged + ".idx", dest + ".idx", ec);
  if (ec) return Status::IoError("cannot move the relayed pack into " + store_dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace gitsyncd
