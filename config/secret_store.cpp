#include "config/secret_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config/private_files.h"

namespace gitsyncd {

Result<SecretStore> SecretStore::OpenForDaemon(const DaemonConfig& daemon) {
  auto key = MasterKeyPath(daemon);
  if (!key.ok()) return key.status();
  return Open(*key, SecretsDir(daemon));
}
namespace {

namespace fs = std::filesystem;

// File layout: magic "GSS1" | 24-byte nonce | ciphertext (value + 16-byte tag).
constexpr char kMagic[4] = {'G', 'S', 'S', '1'};
constexpr size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kMaxValueBytes = 64 * 1024;
constexpr const char* kSuffix = ".secret";

bool EnsureSodium() { return sodium_init() >= 0; }

std::string Errno() { return std::strerror(errno); }

Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::IoError("cannot open " + path + ": " + Errno());
  }
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::IoError("cannot read " + path + ": " + Errno());
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > limit) {
      ::close(fd);
      return Status::InvalidArgument(path + " is larger than " + std::to_string(limit) + " bytes");
    }
  }
  ::close(fd);
  return data;
}


}  // namespace

Status SecretStore::ValidateName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && name[0] != '.' &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '.';
            });
  if (!ok) {
    return Status::InvalidArgument("invalid secret name '" + name +
                                   "': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'");
  }
  return Status::Ok();
}

Status SecretStore::InitKey(const std::string& key_path) {
  if (!EnsureSodium()) return Status::Internal("libsodium failed to initialise");
  std::error_code ec;
  if (fs::exists(key_path, ec)) {
    return Status::AlreadyExists("master key " + key_path +
                                 " already exists; refusing to overwrite it (secrets encrypted with it "
                                 "would become unreadable)");
  }
  std::string dir = fs::path(key_path).parent_path().string();
  if (!dir.empty()) {
    Status s = MakePrivateDirs(dir);
    if (!s.ok()) return s;
  }
  unsigned char key[kKeyBytes];
  crypto_aead_xchacha20poly1305_ietf_keygen(key);
  // O_EXCL: two concurrent `secret init` runs cannot both succeed.
  int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    sodium_memzero(key, sizeof key);
    if (errno == EEXIST) return Status::AlreadyExists("master key " + key_path + " already exists");
    return Status::IoError("cannot create master key " + key_path + ": " + Errno());
  }
  GiveToFolderOwner(fd, dir);
  ssize_t n = ::write(fd, key, sizeof key);
  sodium_memzero(key, sizeof key);
  bool ok = n == static_cast<ssize_t>(sizeof key) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(key_path.c_str());
    return Status::IoError("cannot write master key " + key_path + ": " + Errno());
  }
  return Status::Ok();
}

Result<SecretStore> SecretStore::Open(const std::string& key_path, const std::string& dir) {
  if (!EnsureSodium()) return Status::Internal("libsodium failed to initialise");
  struct stat st{};
  if (::stat(key_path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("master key " + key_path + " does not exist (create it with `gitsyncd secret init`)");
    }
    return Status::IoError("cannot read master key " + key_path + ": " + Errno());
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("master key " + key_path +
                                    " is readable by group or others; run: chmod 600 " + key_path);
  }
  auto key = ReadSmallFile(key_path, 1024);
  if (!key.ok()) return key.status();
  if (key->size() != kKeyBytes) {
    sodium_memzero(key->data(), key->size());
    return Status::Corrupted("master key " + key_path + " has " + std::to_string(key->size()) +
                             " bytes; expected " + std::to_string(kKeyBytes));
  }
  Status s = MakePrivateDirs(dir);
  if (!s.ok()) return s;
  SecretStore store(dir, *key);
  sodium_memzero(key->data(), key->size());
  return store;
}

SecretStore::SecretStore(std::string dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {
  sodium_mlock(key_.data(), key_.size());
}

SecretStore::SecretStore(SecretStore&& o) noexcept : dir_(std::move(o.dir_)), key_(std::move(o.key_)) {
  o.key_.clear();
}

SecretStore& SecretStore::operator=(SecretStore&& o) noexcept {
  if (this != &o) {
    if (!key_.empty()) sodium_munlock(key_.data(), key_.size());
    dir_ = std::move(o.dir_);
    key_ = std::move(o.key_);
    o.key_.clear();
  }
  return *this;
}

SecretStore::~SecretStore() {
  // sodium_munlock also zeroes the memory.
  if (!key_.empty()) sodium_munlock(key_.data(), key_.size());
}

Status SecretStore::Set(const std::string& name, const std::string& value) {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  if (value.empty()) return Status::InvalidArgument("secret '" + name + "' would be empty; refusing");
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("secret '" + name + "' is larger than 64 KiB");
  }
  std::string out(sizeof kMagic + kNonceBytes + value.size() + kTagBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(p, kMagic, sizeof kMagic);
  unsigned char* nonce = p + sizeof kMagic;
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long clen = 0;
  // The name is associated data: a file copied to another name fails authentication.
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &clen, reinterpret_cast<const unsigned char*>(value.data()), value.size(),
      reinterpret_cast<const unsigned char*>(name.data()), name.size(), nullptr, nonce,
      reinterpret_cast<const unsigned char*>(key_.data()));
  return WritePrivateFile(dir_ + "/" + name + kSuffix, out);
}

Result<std::string> SecretStore::Get(const std::string& name) const {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  std::string path = dir_ + "/" + name + kSuffix;
  auto data = ReadSmallFile(path, sizeof kMagic + kNonceBytes + kMaxValueBytes + kTagBytes);
  if (!data.ok()) {
    if (data.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("secret '" + name + "' is not in the store " + dir_ +
                              " (add it with `gitsyncd secret set " + name + "`)");
    }
    return data.status();
  }
  if (data->size() < sizeof kMagic + kNonceBytes + kTagBytes || std::memcmp(data->data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corrupted("secret '" + name + "' in " + path + " is not a gitsyncd secret file");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(data->data());
  const unsigned char* nonce = p + sizeof kMagic;
  const unsigned char* cipher = nonce + kNonceBytes;
  size_t clen = data->size() - sizeof kMagic - kNonceBytes;
  std::string value(clen - kTagBytes, '\0');
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(value.data()), &mlen, nullptr, cipher, clen,
      reinterpret_cast<const unsigned char*>(name.data()), name.size(), nonce,
      reinterpret_cast<const unsigned char*>(key_.data()));
  if (rc != 0) {
    return Status::Corrupted("secret '" + name + "' in " + path +
                             " failed authentication (tampered, or encrypted with another master key)");
  }
  value.resize(mlen);
  return value;
}

Result<std::vector<std::string>> SecretStore::List() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string f = e.path().filename().string();
    if (f.size() > std::strlen(kSuffix) && f.ends_with(kSuffix) && f.find(".tmp-") == std::string::npos) {
      names.push_back(f.substr(0, f.size() - std::strlen(kSuffix)));
    }
  }
  if (ec) return Status::IoError("cannot list " + dir_ + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Status SecretStore::Remove(const std::string& name) {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  std::string path = dir_ + "/" + name + kSuffix;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::NotFound("secret '" + name + "' is not in the store " + dir_);
    return Status::IoError("cannot remove " + path + ": " + Errno());
  }
  return Status::Ok();
}

std::string SecretFilePath(const std::string& file, const std::string& config_dir) {
  if (fs::path(file).is_absolute()) return file;
  // Under systemd, a file handed in with LoadCredential= wins; otherwise (the CLI run by hand,
  // or a file the unit does not load) the same name next to the config, so both read one file.
  const char* cred = std::getenv("CREDENTIALS_DIRECTORY");
  if (cred != nullptr && *cred != '\0') {
    std::string in_credentials = (fs::path(cred) / file).string();
    if (::access(in_credentials.c_str(), F_OK) == 0) return in_credentials;
  }
  return (fs::path(config_dir) / file).string();
}

Result<std::string> ResolveSecret(const SecretRef& ref, const SecretStore* store, const std::string& config_dir) {
  const std::string where = ref.where.ToString();
  switch (ref.kind) {
    case SecretRef::Kind::kNone:
      return Status::NotFound(where + ": no secret given");
    case SecretRef::Kind::kStore: {
      if (store == nullptr) {
        return Status::NotFound(where + ": secret '" + ref.value +
                                "' needs the secret store, which is not open (no master key?)");
      }
      auto v = store->Get(ref.value);
      if (!v.ok()) return v.status().WithContext(where);
      return v;
    }
    case SecretRef::Kind::kFile: {
      std::string path = SecretFilePath(ref.value, config_dir);
      auto v = ReadSmallFile(path, kMaxValueBytes);
      if (!v.ok()) return v.status().WithContext(where + ": secret file");
      if (!v->empty() && v->back() == '\n') v->pop_back();
      if (v->empty()) return Status::InvalidArgument(where + ": secret file " + path + " is empty");
      return v;
    }
    case SecretRef::Kind::kEnv: {
      const char* v = std::getenv(ref.value.c_str());
      if (v == nullptr || *v == '\0') {
        return Status::NotFound(where + ": environment variable " + ref.value + " is not set");
      }
      return std::string(v);
    }
  }
  return Status::Internal("unknown secret kind");
}

}  // namespace gitsyncd
