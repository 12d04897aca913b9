// Encrypted-at-rest secret store. Each secret is one file <dir>/<name>.secret holding
// XChaCha20-Poly1305 (libsodium AEAD) ciphertext with a fresh random nonce per write; the
// secret's name is bound as associated data, so a file renamed to another secret is refused.
// Writes go to a temp file then rename(2): a crash never leaves a half-written secret.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "base/status.h"

namespace gitsyncd {

class SecretStore {
 public:
  // Creates a new random master key at `key_path` with mode 0600. Refuses to overwrite.
  static Status InitKey(const std::string& key_path);

  // Opens a store in `dir` with the master key at `key_path` (created dir 0700 if missing).
  // The daemon's store: its master_key and secrets_dir.
  static Result<SecretStore> OpenForDaemon(const DaemonConfig& daemon);
  static Result<SecretStore> Open(const std::string& key_path, const std::string& dir);

  // Secret names: letters, digits, '_', '-', '.', 1..128 chars, not starting with '.'.
  static Status ValidateName(const std::string& name);

  Status Set(const std::string& name, const std::string& value);
  Result<std::string> Get(const std::string& name) const;
  Result<std::vector<std::string>> List() const;  // sorted names
  Status Remove(const std::string& name);

  SecretStore(SecretStore&&) noexcept;
  SecretStore& operator=(SecretStore&&) noexcept;
  ~SecretStore();  // wipes the key from memory

 private:
  SecretStore(std::string dir, std::string key);
  std::string dir_;
  std::string key_;  // 32 bytes
};

// Where {file: PATH} is read: an absolute PATH as is; a relative one in $CREDENTIALS_DIRECTORY
// when that is set and holds the file (systemd LoadCredential=), else in `config_dir`.
std::string SecretFilePath(const std::string& file, const std::string& config_dir);

// Resolves a secret reference: {secret: NAME} through `store` (may be null: then an error
// saying the store is not open), {file: PATH} (at SecretFilePath; one trailing newline is
// stripped), {env: VAR}. Errors name the reference's file:line.
Result<std::string> ResolveSecret(const SecretRef& ref, const SecretStore* store,
                                  const std::string& config_dir);

}  // namespace gitsyncd
