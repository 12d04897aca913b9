#include "sync/repo_maintenance.h"

#include <dirent.h>
#include <fcntl.h>
#include <git2/sys/odb_backend.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sync/api_state.h"
#include "sync/binding_repo.h"
#include "sync/binding_state.h"
#include "sync/folder_fd.h"
#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

// The delta window may hold this much (pack.windowMemory): a folder of 50 MB files must not
// cost ten of them in memory at once.
constexpr int64_t kWindowMemory = 64ll << 20;

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof h);
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b) != 0; }
};
using OidSet = std::unordered_set<git_oid, OidHash, OidEq>;

struct PackFile {
  std::string base;  // <objects>/pack/pack-<hash>, without .pack/.idx
  uint64_t bytes = 0;
  bool kept = false;  // a .keep file: someone asked for it to stay
};

struct Inventory {
  std::vector<PackFile> packs;
  std::vector<std::string> loose;  // paths
  uint64_t bytes = 0;
};

bool IsHex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  return out;
}

uint64_t SizeOf(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
}

bool Exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

// What a killed libgit2 write leaves: temporary files of the indexer ("pack_git2_*"), of
// loose objects ("<hex>_git2_*", "tmp_object_git2_*"), lock files, and an index without its
// pack or a pack without its index (the indexer renames the index into place first). Only
// ever called where no pass of the binding runs, so none of them belongs to a live write.
bool IsLeftover(const std::string& name) {
  return name.find("_git2_") != std::string::npos || EndsWith(name, ".lock");
}

void ListPacks(const std::string& pack_dir, bool clean, Inventory* inv) {
  for (const auto& n : Names(pack_dir)) {
    std::string path = pack_dir + "/" + n;
    if (IsLeftover(n)) {
      if (clean) ::unlink(path.c_str());
      continue;
    }
    bool idx = EndsWith(n, ".idx"), pack = EndsWith(n, ".pack");
    if (!idx && !pack) continue;
    std::string base = path.substr(0, path.size() - (idx ? 4 : 5));
    bool whole = Exists(base + (idx ? ".pack" : ".idx"));
    if (!whole) {
      if (clean) ::unlink(path.c_str());
      continue;
    }
    if (!pack) continue;  // counted once, with its .pack
    uint64_t bytes = SizeOf(base + ".pack") + SizeOf(base + ".idx");
    inv->packs.push_back({base, bytes, Exists(base + ".keep")});
    inv->bytes += bytes;
  }
}

Inventory TakeInventory(const std::string& objects, bool clean) {
  Inventory inv;
  if (clean) {
    // Beside objects/ too: libgit2 writes some files through "<name>_git2_<random>" in the
    // repository's own folder, and a kill leaves that behind (locks there are left alone: a
    // ref's lock is cleared where the ref is opened).
    std::string repo_dir = objects.substr(0, objects.rfind('/'));
    for (const auto& n : Names(repo_dir)) {
      if (n.find("_git2_") != std::string::npos) ::unlink((repo_dir + "/" + n).c_str());
    }
  }
  ListPacks(objects + "/pack", clean, &inv);
  for (const auto& d : Names(objects)) {
    if (IsLeftover(d) && clean) ::unlink((objects + "/" + d).c_str());
    if (!IsHex(d, 2)) continue;
    for (const auto& n : Names(objects + "/" + d)) {
      std::string path = objects + "/" + d + "/" + n;
      if (IsHex(n, GIT_OID_HEXSZ - 2)) {
        inv.loose.push_back(path);
        inv.bytes += SizeOf(path);
      } else if (IsLeftover(n) && clean) {
        ::unlink(path.c_str());
      }
    }
  }
  return inv;
}

void AddRoot(const std::string& hex, std::vector<git_oid>* roots) {
  git_oid oid;
  if (hex.size() == GIT_OID_HEXSZ && git_oid_fromstr(&oid, hex.c_str()) == 0) roots->push_back(oid);
}

// Every object the binding may still need: refs, and what its state files name.
Result<std::vector<git_oid>> CollectRoots(git_repository* repo, const std::string& binding_dir) {
  std::vector<git_oid> roots;
  git_reference_iterator* raw_it = nullptr;
  int rc = git_reference_iterator_new(&raw_it, repo);
  if (rc < 0) return GitError(rc, "cannot list the refs of " + binding_dir + "/repo");
  ReferenceIteratorPtr it(raw_it);
  git_reference* ref = nullptr;
  while ((rc = git_reference_next(&ref, it.get())) == 0) {
    ReferencePtr owned(ref);
    if (const git_oid* target = git_reference_target(ref)) roots.push_back(*target);
  }
  if (rc != GIT_ITEROVER) return GitError(rc, "cannot list the refs of " + binding_dir + "/repo");
  // A state.json that cannot be read is no reason to guess: nothing is pruned.
  auto state = LoadBindingState(binding_dir);
  if (!state.ok()) return state.status();
  for (const auto* hex : {&state->last_synced_commit, &state->pending_commit, &state->pending_local_tree}) {
    AddRoot(*hex, &roots);
  }
  for (const auto& c : state->conflicts) {
    for (const auto* hex : {&c.commit, &c.local_commit, &c.remote_commit}) AddRoot(*hex, &roots);
  }
  ApiState api = LoadApiState(binding_dir);
  AddRoot(api.snapshot, &roots);
  for (const auto& [local, remote] : api.known) AddRoot(local, &roots);
  return roots;
}

// The objects reachable from `roots`, commits first, then trees, then blobs (each with the
// name it has in its tree, which groups delta candidates). A root that is not in the
// repository is skipped (nothing of it can be kept); anything missing below a present root
// is an error: the repository is already damaged, and pruning could only make it worse.
class Walk {
 public:
  // `borrowed`: a shared store's objects (null: none). An object found there is not walked
  // into: the store only ever gains whole fetches and pushed commits whose parents it holds
  // (shared_store.h), so all it reaches is there too.
  Walk(git_repository* repo, git_odb* borrowed) : repo_(repo), borrowed_(borrowed) {}

  Status Run(const std::vector<git_oid>& roots) {
    git_odb* odb_raw = nullptr;
    int rc = git_repository_odb(&odb_raw, repo_);
    if (rc < 0) return GitError(rc, "cannot open the object database");
    OdbPtr odb(odb_raw);
    std::vector<git_oid> commits;
    for (const auto& root : roots) {
      size_t size = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      if (git_odb_read_header(&size, &type, odb.get(), &root) < 0) continue;  // not here: nothing to keep
      if (type == GIT_OBJECT_COMMIT) {
        commits.push_back(root);
      } else if (type == GIT_OBJECT_TREE) {
        if (Status s = AddTree(root, ""); !s.ok()) return s;
      } else if (Add(root)) {
        blobs_.push_back({root, ""});  // a blob or a tag: kept as it is
      }
    }
    return AddCommits(std::move(commits));
  }

  size_t size() const { return commits_.size() + trees_.size() + blobs_.size(); }  // objects kept here
  // In the order a pack is best written.
  void ForEach(const std::function<void(const git_oid&, const std::string&)>& f) const {
    for (const auto& c : commits_) f(c, "");
    for (const auto& [t, name] : trees_) f(t, name);
    for (const auto& [b, name] : blobs_) f(b, name);
  }

 private:
  // True the first time `id` is met, unless the shared store holds it.
  bool Add(const git_oid& id) {
    return seen_.insert(id).second && (borrowed_ == nullptr || git_odb_exists(borrowed_, &id) != 1);
  }

  // Each commit, newest first from each root, with its tree, down to what is borrowed.
  Status AddCommits(std::vector<git_oid> todo) {
    while (!todo.empty()) {
      git_oid id = todo.back();
      todo.pop_back();
      if (!Add(id)) continue;
      commits_.push_back(id);
      git_commit* c = nullptr;
      if (int rc = git_commit_lookup(&c, repo_, &id); rc < 0) return GitError(rc, "cannot read commit " + OidHex(id));
      CommitPtr commit(c);
      if (Status s = AddTree(*git_commit_tree_id(c), ""); !s.ok()) return s;
      for (unsigned i = git_commit_parentcount(c); i-- > 0;) todo.push_back(*git_commit_parent_id(c, i));
    }
    return Status::Ok();
  }

  Status AddTree(const git_oid& root, const std::string& root_name) {
    std::vector<std::pair<git_oid, std::string>> todo{{root, root_name}};
    while (!todo.empty()) {
      auto [id, name] = todo.back();
      todo.pop_back();
      if (!Add(id)) continue;
      trees_.push_back({id, name});
      git_tree* t = nullptr;
      int rc = git_tree_lookup(&t, repo_, &id);
      if (rc < 0) return GitError(rc, "cannot read tree " + OidHex(id));
      TreePtr tree(t);
      for (size_t i = 0; i < git_tree_entrycount(t); ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(t, i);
        const git_oid* eid = git_tree_entry_id(e);
        git_object_t type = git_tree_entry_type(e);
        if (type == GIT_OBJECT_TREE) {
          todo.push_back({*eid, git_tree_entry_name(e)});
        } else if (type == GIT_OBJECT_BLOB && Add(*eid)) {
          blobs_.push_back({*eid, git_tree_entry_name(e)});
        }  // a submodule's commit lives in another repository
      }
    }
    return Status::Ok();
  }

  git_repository* repo_;
  git_odb* borrowed_;
  OidSet seen_;
  std::vector<git_oid> commits_;
  std::vector<std::pair<git_oid, std::string>> trees_, blobs_;
};


Status SyncFile(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return Status::IoError("cannot flush " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

// Writes `walk`'s objects (those not in `skip`, when given) as one new pack, durably.
// Returns the new pack's path without its extension ("" when there was nothing to write).
using ObjectVisitor = std::function<void(const git_oid&, const std::string&)>;
using ObjectList = std::function<void(const ObjectVisitor&)>;

Result<std::string> WritePack(git_repository* repo, const std::string& objects, const ObjectList& each, git_odb* skip,
                              size_t* packed) {
  git_packbuilder* raw = nullptr;
  int rc = git_packbuilder_new(&raw, repo);
  if (rc < 0) return GitError(rc, "cannot start a pack");
  PackbuilderPtr pb(raw);
  git_packbuilder_set_threads(pb.get(), 1);  // maintenance is background work: one core at most (returns the count set)
  Status inserted = Status::Ok();
  each([&](const git_oid& id, const std::string& name) {
    if (!inserted.ok() || (skip != nullptr && git_odb_exists(skip, &id) == 1)) return;
    int r = git_packbuilder_insert(pb.get(), &id, name.empty() ? nullptr : name.c_str());
    if (r < 0) inserted = GitError(r, "cannot pack object " + OidHex(id));
  });
  if (!inserted.ok()) return inserted;
  *packed = git_packbuilder_object_count(pb.get());
  if (*packed == 0) return std::string();
  std::string pack_dir = objects + "/pack";
  // A binding beside a shared store starts without one (sync/pass_recovery.cpp).
  if (::mkdir(pack_dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create " + pack_dir + ": " + std::strerror(errno));
  }
  if ((rc = git_packbuilder_write(pb.get(), pack_dir.c_str(), 0, nullptr, nullptr)) < 0) {
    return GitError(rc, "cannot write a pack in " + pack_dir);
  }
  std::string base = pack_dir + "/pack-" + git_packbuilder_name(pb.get());
  // The indexer does not fsync unless core.fsyncObjectFiles is set (which would fsync every
  // loose object a pass writes too): the pack, its index and their names are made durable
  // here, before anything they replace is removed.
  for (const char* ext : {".pack", ".idx"}) {
    if (Status s = SyncFile(base + ext, O_RDONLY); !s.ok()) return s;
  }
  if (Status s = SyncFile(pack_dir, O_RDONLY | O_DIRECTORY); !s.ok()) return s;
  return base;
}

// Bounds what deltification may hold in memory (read by git_packbuilder_new).
void LimitWindowMemory(git_repository* repo) {
  git_config* raw = nullptr;
  if (git_repository_config(&raw, repo) < 0) return;
  ConfigPtr config(raw);
  int64_t have = 0;
  if (git_config_get_int64(&have, config.get(), "pack.windowMemory") == 0 && have == kWindowMemory) return;
  git_config_set_int64(config.get(), "pack.windowMemory", kWindowMemory);
}

void RemovePack(const PackFile& p) {
  // The index first: a pack without its index is invisible to Git and libgit2, and removed
  // by the next maintenance if a kill -9 comes in between.
  for (const char* ext : {".idx", ".pack", ".rev", ".bitmap", ".mtimes"}) ::unlink((p.base + ext).c_str());
}

void RemoveLoose(const std::string& objects, const std::vector<std::string>& loose) {
  for (const auto& path : loose) ::unlink(path.c_str());
  for (const auto& d : Names(objects)) {
    if (IsHex(d, 2)) ::rmdir((objects + "/" + d).c_str());  // only empty ones go
  }
}

MaintenanceReport Counted(const Inventory& inv) {
  MaintenanceReport report;
  report.packs_before = inv.packs.size();
  report.loose_before = inv.loose.size();
  report.bytes_before = inv.bytes;
  return report;
}

// After a maintenance at most this many packs are left, so the next one comes a few fetches
// later rather than at the next pass.
constexpr size_t kPacksAfterMaintenance = 4;

// Which packs a maintenance rewrites into one: as `git repack --geometric=2`, the smallest
// packs, up to the point where every larger pack is at least twice the one below it and twice
// everything rolled up, then more small ones while more than kPacksAfterMaintenance would be
// left. Each object is so rewritten a few times over the life of the repository, not once per
// few fetches: the rewrite is in proportion to what arrived lately, and the whole history is
// rewritten only when the recent packs have grown to the size of the old ones. A pack with a
// .keep file is never rolled. `all`: every pack (a forced maintenance).
std::vector<const PackFile*> PacksToRoll(const Inventory& inv, bool all) {
  std::vector<const PackFile*> packs;
  for (const auto& p : inv.packs) {
    if (!p.kept) packs.push_back(&p);
  }
  if (all) return packs;
  std::sort(packs.begin(), packs.end(), [](const PackFile* a, const PackFile* b) { return a->bytes < b->bytes; });
  size_t roll = 0;  // packs[0, roll) are rewritten
  for (size_t i = packs.size(); i-- > 1;) {
    if (packs[i]->bytes < 2 * packs[i - 1]->bytes) {
      roll = i + 1;
      break;
    }
  }
  uint64_t rolled = 0;
  for (size_t i = 0; i < roll; ++i) rolled += packs[i]->bytes;
  while (roll < packs.size() && (packs[roll]->bytes < 2 * rolled || packs.size() - roll + 1 > kPacksAfterMaintenance)) {
    rolled += packs[roll++]->bytes;
  }
  packs.resize(roll);
  return packs;
}

// Once the packs that stay hold everything: the loose objects go, and the report gets the
// store's size after; returns the milliseconds since `started`.
double Finish(const std::string& repo_dir, const std::vector<std::string>& loose,
              std::chrono::steady_clock::time_point started, MaintenanceReport* report) {
  RemoveLoose(repo_dir + "/objects", loose);
  report->ran = true;
  report->bytes_after = CountObjectStore(repo_dir).bytes;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

// The name each of `ids` has in a tree among `ids` (a fetch brings a commit's new trees with
// the new blobs they name): the packbuilder looks for deltas between objects of one name, so
// without them a rolled pack of a store is much larger than the same objects packed by Git.
std::unordered_map<git_oid, std::string, OidHash, OidEq> NamesInTrees(git_repository* repo, const OidSet& ids) {
  std::unordered_map<git_oid, std::string, OidHash, OidEq> names;
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo) < 0) return names;  // packed unnamed: larger, not wrong
  OdbPtr odb(odb_raw);
  for (const auto& id : ids) {
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_read_header(&size, &type, odb.get(), &id) < 0 || type != GIT_OBJECT_TREE) continue;
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, repo, &id) < 0) continue;
    TreePtr tree(raw);
    for (size_t i = 0; i < git_tree_entrycount(raw); ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(raw, i);
      if (ids.count(*git_tree_entry_id(e)) != 0) names.emplace(*git_tree_entry_id(e), git_tree_entry_name(e));
    }
  }
  return names;
}

// How much a maintenance rewrote, for its log line.
std::string RollName(const MaintenanceReport& report, size_t rolled) {
  if (report.full) return "full";
  return std::to_string(rolled) + " of " + std::to_string(report.packs_before) + " packs";
}

// A repository opened for maintenance, its pack windows limited.
Result<RepositoryPtr> OpenForMaintenance(const std::string& dir) {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  if (int rc = git_repository_open_bare(&raw, dir.c_str()); rc < 0) return GitError(rc, "cannot open " + dir);
  RepositoryPtr repo(raw);
  LimitWindowMemory(repo.get());
  return repo;
}

}  // namespace

ObjectStoreCounts CountObjectStore(const std::string& repo_dir) {
  Inventory inv = TakeInventory(repo_dir + "/objects", false);
  return {inv.packs.size(), inv.loose.size(), inv.bytes};
}

Result<MaintenanceReport> MaintainRepository(const std::string& binding_dir, const std::string& shared_store,
                                             bool force) {
  std::string repo_dir = BindingRepoDir(binding_dir);
  std::string objects = repo_dir + "/objects";
  if (!Exists(objects)) return MaintenanceReport{};
  Inventory inv = TakeInventory(objects, true);
  MaintenanceReport report = Counted(inv);
  if (!force && inv.packs.size() <= kMaxPacks && inv.loose.size() <= kMaxLoose) return report;
  auto started = std::chrono::steady_clock::now();
  auto opened_repo = OpenBindingRepo(binding_dir, shared_store);
  if (!opened_repo.ok()) return opened_repo.status();
  RepositoryPtr repo = std::move(opened_repo).value();
  LimitWindowMemory(repo.get());
  auto roots = CollectRoots(repo.get(), binding_dir);
  if (!roots.ok()) return roots.status();
  // Objects a shared store holds stay there (the store is never pruned), and so does
  // everything they reach: the walk stops at them.
  std::vector<std::string> alternates;
  if (!shared_store.empty()) alternates.push_back(fs::absolute(shared_store + "/objects").string());
  auto borrowed = OpenPacks({}, alternates);
  if (!borrowed.ok()) return borrowed.status();
  Walk walk(repo.get(), alternates.empty() ? nullptr : borrowed->get());
  if (Status s = walk.Run(*roots); !s.ok()) return s.WithContext("maintenance of " + repo_dir + " skipped");
  report.reachable = walk.size();

  // The packs not rolled stay as they are (unreachable objects in them go when they are
  // rolled in turn); the needed objects that neither they nor a shared store hold go into the
  // new pack.
  std::vector<const PackFile*> rolled = PacksToRoll(inv, force);
  report.full = rolled.size() == inv.packs.size();
  std::vector<std::string> keep_idx;
  for (const auto& p : inv.packs) {
    if (std::find(rolled.begin(), rolled.end(), &p) == rolled.end()) keep_idx.push_back(p.base + ".idx");
  }
  OdbPtr skip;
  if (!keep_idx.empty() || !alternates.empty()) {
    auto opened = OpenPacks(keep_idx, alternates);
    if (!opened.ok()) return opened.status();
    skip = std::move(opened).value();
  }
  auto written = WritePack(repo.get(), objects, [&](const ObjectVisitor& f) { walk.ForEach(f); }, skip.get(),
                           &report.packed);
  if (!written.ok()) return written.status();
  if (!written->empty()) keep_idx.push_back(*written + ".idx");

  // Before removing anything: every object to keep is in the packs that stay.
  auto check = OpenPacks(keep_idx, alternates);
  if (!check.ok()) return check.status();
  Status missing = Status::Ok();
  walk.ForEach([&](const git_oid& id, const std::string&) {
    if (missing.ok() && git_odb_exists(check->get(), &id) != 1) {
      missing = Status::Internal("object " + OidHex(id) + " is not in the new pack; nothing removed");
    }
  });
  if (!missing.ok()) return missing;
  repo.reset();  // no open handle on what is removed next

  for (const auto* p : rolled) {
    if (written->empty() || p->base != *written) RemovePack(*p);
  }
  double ms = Finish(repo_dir, inv.loose, started, &report);
  spdlog::info("repository maintenance of {}: {} packs and {} loose objects ({} KiB) -> {} objects kept, {} packed "
               "({}), {} KiB, {:.0f} ms",
               repo_dir, report.packs_before, report.loose_before, report.bytes_before / 1024, report.reachable,
               report.packed, RollName(report, rolled.size()), report.bytes_after / 1024, ms);
  return report;
}

Result<MaintenanceReport> ConsolidateSharedStore(const std::string& store_dir, size_t max_packs, size_t max_loose) {
  std::string objects = store_dir + "/objects";
  if (!Exists(objects)) return MaintenanceReport{};
  Inventory inv = TakeInventory(objects, true);
  MaintenanceReport report = Counted(inv);
  if (inv.packs.size() <= max_packs && inv.loose.size() <= max_loose) return report;
  auto started = std::chrono::steady_clock::now();
  auto opened_repo = OpenForMaintenance(store_dir);
  if (!opened_repo.ok()) return opened_repo.status();
  RepositoryPtr repo = std::move(opened_repo).value();
  std::vector<const PackFile*> sources = PacksToRoll(inv, false);
  report.full = sources.size() == inv.packs.size();
  // Every object of the rewritten packs and every loose one, reachable or not.
  OidSet ids;
  for (const auto* p : sources) {
    auto odb = OpenPacks({p->base + ".idx"});
    if (!odb.ok()) return odb.status();
    int rc = git_odb_foreach(
        odb->get(), [](const git_oid* id, void* set) { static_cast<OidSet*>(set)->insert(*id); return 0; }, &ids);
    if (rc < 0) return GitError(rc, "cannot list " + p->base + ".pack");
  }
  for (const auto& path : inv.loose) {
    std::string hex = path.substr(path.size() - GIT_OID_HEXSZ - 1);
    hex.erase(2, 1);  // "ab/cdef..." -> "abcdef..."
    git_oid id;
    if (git_oid_fromstr(&id, hex.c_str()) == 0) ids.insert(id);
  }
  report.reachable = ids.size();
  std::unordered_map<git_oid, std::string, OidHash, OidEq> names = NamesInTrees(repo.get(), ids);
  auto written = WritePack(
      repo.get(), objects,
      [&](const ObjectVisitor& f) {
        for (const auto& id : ids) {
          auto named = names.find(id);
          f(id, named == names.end() ? "" : named->second);
        }
      },
      nullptr, &report.packed);
  if (!written.ok()) return written.status();
  std::vector<std::string> keep_idx;
  if (!written->empty()) keep_idx.push_back(*written + ".idx");
  auto check = OpenPacks(keep_idx);
  if (!check.ok()) return check.status();
  for (const auto& id : ids) {
    if (git_odb_exists(check->get(), &id) != 1) {
      return Status::Internal("object " + OidHex(id) + " is not in the new pack of " + store_dir + "; nothing removed");
    }
  }
  repo.reset();
  for (const auto* p : sources) {
    if (written->empty() || p->base != *written) RemovePack(*p);
  }
  double ms = Finish(store_dir, inv.loose, started, &report);
  spdlog::info("shared object store {}: {} packs and {} loose objects ({} KiB) -> {} objects repacked ({}), {} KiB, "
               "{:.0f} ms",
               store_dir, report.packs_before, report.loose_before, report.bytes_before / 1024, report.packed,
               RollName(report, sources.size()), report.bytes_after / 1024, ms);
  return report;
}

Result<OdbPtr> OpenPacks(const std::vector<std::string>& indexes, const std::vector<std::string>& folders) {
  git_odb* raw = nullptr;
  int rc = git_odb_new(&raw);
  if (rc < 0) return GitError(rc, "cannot create an object database");
  OdbPtr odb(raw);
  for (const auto& f : folders) {
    if ((rc = git_odb_add_disk_alternate(odb.get(), f.c_str())) < 0) return GitError(rc, "cannot open " + f);
  }
  for (const auto& idx : indexes) {
    git_odb_backend* backend = nullptr;
    if ((rc = git_odb_backend_one_pack(&backend, idx.c_str())) < 0) return GitError(rc, "cannot open " + idx);
    if ((rc = git_odb_add_backend(odb.get(), backend, 1)) < 0) {
      backend->free(backend);
      return GitError(rc, "cannot open " + idx);
    }
  }
  return odb;
}

}  // namespace gitsyncd
