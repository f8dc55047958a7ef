// PartUrlSigner: capability URLs for dataset part downloads. A URL carries the dataset id, the
// part (or "original"), an expiry (Unix seconds) and an HMAC-SHA256 over those, keyed by a
// secret every API process shares (service::url_signing_secret, kept in the store), so a link
// made by one API process works on any other. It works without the API key until it expires.
// Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace ej::api {

class PartUrlSigner {
 public:
  PartUrlSigner(std::string secret, int64_t ttl_s) : secret_(std::move(secret)), ttl_s_(ttl_s) {}
  // The path + query of a download link, e.g. /v1/dataset-parts/ds-abc123/0?expires=..&sig=..
  std::string signed_path(const std::string& dataset_id, const std::string& part,
                          int64_t now_s) const;
  // true when `sig` is the signature of (dataset_id, part, expires) and expires >= now_s.
  bool verify(const std::string& dataset_id, const std::string& part, int64_t expires,
              const std::string& sig, int64_t now_s) const;
  int64_t ttl_s() const { return ttl_s_; }

 private:
  std::string signature(const std::string& dataset_id, const std::string& part,
                        int64_t expires) const;
  std::string secret_;
  int64_t ttl_s_;
};

}  // namespace ej::api
