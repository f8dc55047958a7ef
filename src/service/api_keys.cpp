#include "service/api_keys.h"

#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"
#include "store/store.h"

namespace ej::service {

namespace {
constexpr std::string_view kScheme = "hmac-sha256:";
}  // namespace

ApiKeys::ApiKeys(store::Store* store, std::string secret)
    : store_(store), secret_(std::move(secret)) {
  if (secret_.empty()) throw Error(ErrorCode::kInternal, "api keys: empty hashing secret");
}

std::string ApiKeys::stored_hash(std::string_view key) const {
  return std::string(kScheme) + hmac_sha256_hex(secret_, key);
}

// The lookup is an equality search on HMAC(secret, key): its timing depends on that value only,
// which a client cannot choose or learn without the secret, so it reveals nothing about the
// stored hashes (the same argument as a constant-time compare, without a table scan).
std::optional<std::string> ApiKeys::owner_for_key(std::string_view key) const {
  const std::string hash = stored_hash(key);
  if (std::optional<std::string> owner = store_->owner_for_key_hash(hash)) return owner;
  // A key stored by an older version (bare SHA-256): accept it once and rewrite it.
  const std::string legacy = sha256_hex(key);
  std::optional<std::string> owner = store_->owner_for_key_hash(legacy);
  if (owner && store_->rehash_api_key(legacy, hash)) {
    log_info("api key of owner " + *owner + ": migrated to the keyed hash");
  }
  return owner;
}

void ApiKeys::add(std::string_view key, const std::string& owner, const std::string& label) {
  store_->add_api_key(stored_hash(key), owner, label);
}

std::string ApiKeys::add_cli_key(std::string_view key) {
  // Known already (this run's secret, or a legacy row that keeps the owner its data has).
  if (std::optional<std::string> owner = owner_for_key(key)) return *owner;
  std::string owner = "key-" + hmac_sha256_hex(secret_, "owner\n" + std::string(key)).substr(0, 16);
  add(key, owner, "--api-key");
  return owner;
}

std::pair<std::string, std::string> ApiKeys::create(const std::string& owner,
                                                    const std::string& label) {
  std::string key = "ej-" + random_alnum(40);
  std::string who = owner.empty() ? "key-" + random_alnum(16) : owner;
  add(key, who, label);
  return {key, who};
}

int64_t ApiKeys::count() const {
  return store_->count_api_keys();
}

namespace {
std::string key_id(const std::string& stored) {
  size_t colon = stored.find(':');
  std::string hex = colon == std::string::npos ? stored : stored.substr(colon + 1);
  return hex.substr(0, 12);
}
}  // namespace

std::vector<ApiKeys::Listed> ApiKeys::list() const {
  std::vector<Listed> out;
  for (const store::ApiKeyRow& row : store_->list_api_keys()) {
    out.push_back({key_id(row.key_hash), row.owner, row.name, row.created_us});
  }
  return out;
}

ApiKeys::Listed ApiKeys::revoke(const std::string& id_prefix) {
  if (id_prefix.size() < 6) {
    throw_invalid("a key id has at least 6 characters (see `embedjobs keys list`), got '" +
                  id_prefix + "'");
  }
  std::vector<store::ApiKeyRow> matches;
  for (const store::ApiKeyRow& row : store_->list_api_keys()) {
    if (key_id(row.key_hash).rfind(id_prefix, 0) == 0) matches.push_back(row);
  }
  if (matches.empty()) throw_not_found("no API key has the id " + id_prefix);
  if (matches.size() > 1) throw_invalid("several keys have ids starting with " + id_prefix);
  store_->delete_api_key(matches[0].key_hash);
  return {key_id(matches[0].key_hash), matches[0].owner, matches[0].name, matches[0].created_us};
}

}  // namespace ej::service
