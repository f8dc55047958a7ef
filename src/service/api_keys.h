// ApiKeys: who may call the API. Keys are never stored: only a keyed hash of each,
// HMAC-SHA256(server secret, key), written as "hmac-sha256:<hex>" and mapped to an owner (every
// dataset and job belongs to an owner). The secret lives in the store (service/shared_secret.h),
// so every API process of a cluster hashes keys alike; a stolen hash alone (a log line, one row)
// does not allow testing guesses offline, though a copy of the whole store does. Keys stored by
// older versions as a bare
// SHA-256 hex keep working and are rewritten to the keyed hash the first time they are used (or
// at start-up for --api-key keys).
//
// Used by the API layer to authenticate a request and by the CLI to create keys. Thread-safe
// (the store is; the secret is immutable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ej::store {
class Store;
}  // namespace ej::store

namespace ej::service {

class ApiKeys {
 public:
  // secret: the key-hashing secret (service::api_key_secret). Must not be empty.
  ApiKeys(store::Store* store, std::string secret);

  // The owner of `key`, or nullopt when the key is not known. Migrates a legacy SHA-256 row.
  std::optional<std::string> owner_for_key(std::string_view key) const;
  // Registers `key` for `owner` (idempotent for the same pair). `label` says where it came from.
  void add(std::string_view key, const std::string& owner, const std::string& label);
  // Registers a key given on the command line as its own owner: the owner it already has when it
  // is stored (under either hash), else a new one derived from the keyed hash. Returns the owner.
  std::string add_cli_key(std::string_view key);
  // A new random key for `owner` (a fresh owner when empty); returns {key, owner}. The key is
  // shown once: only its keyed hash is kept.
  std::pair<std::string, std::string> create(const std::string& owner, const std::string& label);
  int64_t count() const;

  // A stored key as `keys list` shows it: `id` is the first 12 hex digits of its stored hash
  // (enough to name it for `keys revoke`, useless for guessing the key).
  struct Listed {
    std::string id;
    std::string owner;
    std::string name;
    int64_t created_us = 0;
  };
  std::vector<Listed> list() const;
  // Revokes the one key whose id starts with `id_prefix` (at least 6 characters). Throws
  // ej::Error: kNotFound when none matches, kInvalidArgument when several do or the prefix is
  // too short. Returns the revoked key's id and owner.
  Listed revoke(const std::string& id_prefix);

  // What the store holds for `key`: "hmac-sha256:" + hex HMAC-SHA256(secret, key).
  std::string stored_hash(std::string_view key) const;

 private:
  store::Store* store_;
  std::string secret_;
};

}  // namespace ej::service
