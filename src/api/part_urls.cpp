#include "api/part_urls.h"

#include "common/ids.h"

namespace ej::api {

std::string PartUrlSigner::signature(const std::string& dataset_id, const std::string& part,
                                     int64_t expires) const {
  return hmac_sha256_hex(secret_, dataset_id + "\n" + part + "\n" + std::to_string(expires));
}

std::string PartUrlSigner::signed_path(const std::string& dataset_id, const std::string& part,
                                       int64_t now_s) const {
  int64_t expires = now_s + ttl_s_;
  return "/v1/dataset-parts/" + dataset_id + "/" + part + "?expires=" + std::to_string(expires) +
         "&sig=" + signature(dataset_id, part, expires);
}

bool PartUrlSigner::verify(const std::string& dataset_id, const std::string& part, int64_t expires,
                           const std::string& sig, int64_t now_s) const {
  if (expires < now_s) return false;
  return constant_time_equal(signature(dataset_id, part, expires), sig);
}

}  // namespace ej::api
