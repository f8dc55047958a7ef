#include "service/api_keys.h"

#include "common/ids.h"
#include "store/store.h"

namespace ej::service {

std::optional<std::string> ApiKeys::owner_for_key(std::string_view key) const {
  return store_->owner_for_key_hash(sha256_hex(key));
}

void ApiKeys::add(std::string_view key, const std::string& owner, const std::string& label) {
  store_->add_api_key(sha256_hex(key), owner, label);
}

std::pair<std::string, std::string> ApiKeys::create(const std::string& owner,
                                                    const std::string& label) {
  std::string key = "ej-" + random_alnum(40);
  std::string who = owner.empty() ? owner_of_cli_key(key) : owner;
  add(key, who, label);
  return {key, who};
}

int64_t ApiKeys::count() const {
  return store_->count_api_keys();
}

std::string ApiKeys::owner_of_cli_key(std::string_view key) {
  return "key-" + sha256_hex(key).substr(0, 16);
}

}  // namespace ej::service
