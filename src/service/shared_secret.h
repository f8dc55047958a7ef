// Secrets every process of a cluster must share: the URL-signing key (signed part download links
// must verify on any API process) and the API-key hashing secret (a key made by one process must
// be accepted by all). They live in the store (Store::get_or_create_secret), not on one machine's
// disk. An install that already has the secret file in its data dir (url_signing.key,
// api_keys.secret, written by older versions) offers that file's content as the first value, so
// its links and keys keep working; a new install offers a fresh random secret. Whichever process
// stores first wins; every later one gets that value. The files are only read, never written.
//
// Stateless functions; thread-safe as the store is. Called once at start-up by the CLI.
#pragma once

#include <string>

namespace ej::store {
class Store;
}  // namespace ej::store

namespace ej::service {

// The secret the store holds under `name`; when there is none, stores the content of
// `legacy_file` (its first line, when that is at least `min_bytes` long) or else 48 random
// alphanumerics, and returns what was stored.
std::string shared_secret(store::Store* store, const std::string& name,
                          const std::string& legacy_file, size_t min_bytes);

// The URL-signing key (store name "url_signing"; legacy file <data_dir>/url_signing.key).
std::string url_signing_secret(store::Store* store, const std::string& data_dir);
// The API-key hashing secret (store name "api_keys"; legacy file <data_dir>/api_keys.secret).
std::string api_key_secret(store::Store* store, const std::string& data_dir);

}  // namespace ej::service
