#include "service/shared_secret.h"

#include <fstream>

#include "common/ids.h"
#include "store/store.h"

namespace ej::service {

std::string shared_secret(store::Store* store, const std::string& name,
                          const std::string& legacy_file, size_t min_bytes) {
  std::string candidate;
  {
    std::ifstream in(legacy_file);
    if (!in || !std::getline(in, candidate) || candidate.size() < min_bytes) candidate.clear();
  }
  if (candidate.empty()) candidate = random_alnum(48);
  return store->get_or_create_secret(name, candidate);
}

std::string url_signing_secret(store::Store* store, const std::string& data_dir) {
  // Older versions regenerated a key file shorter than 32 bytes: such a file was never used.
  return shared_secret(store, "url_signing", data_dir + "/url_signing.key", 32);
}

std::string api_key_secret(store::Store* store, const std::string& data_dir) {
  return shared_secret(store, "api_keys", data_dir + "/api_keys.secret", 1);
}

}  // namespace ej::service
