// ApiKeys: who may call the API. Keys are never stored: only their SHA-256, mapped to an owner
// (every dataset and job belongs to an owner). Used by the API layer to authenticate a request
// and by the CLI to create keys. Thread-safe (the store is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ej::store {
class Store;
}  // namespace ej::store

namespace ej::service {

class ApiKeys {
 public:
  explicit ApiKeys(store::Store* store) : store_(store) {}

  // The owner of `key`, or nullopt when the key is not known.
  std::optional<std::string> owner_for_key(std::string_view key) const;
  // Registers `key` for `owner` (idempotent for the same pair). `label` says where it came from.
  void add(std::string_view key, const std::string& owner, const std::string& label);
  // A new random key for `owner` (a fresh owner when empty); returns {key, owner}. The key is
  // shown once: only its hash is kept.
  std::pair<std::string, std::string> create(const std::string& owner, const std::string& label);
  int64_t count() const;

  // The owner a key given on the command line gets: derived from the key, stable across runs.
  static std::string owner_of_cli_key(std::string_view key);

 private:
  store::Store* store_;
};

}  // namespace ej::service
