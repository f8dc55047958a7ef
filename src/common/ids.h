// Identifiers: random ids from the OS CSPRNG, Cohere-style dataset ids, SHA-256 / HMAC helpers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ej {

// n lowercase alphanumerics from a cryptographic RNG.
std::string random_alnum(size_t n);
// A random UUID v4 in canonical form (job ids).
std::string random_uuid();
// "My File.csv" -> "my-file-csv"; empty or all-symbol names become "dataset". At most 40 chars.
std::string slugify(std::string_view name);
// Cohere-style dataset id: <slug>-<6 alnum>.
std::string make_dataset_id(std::string_view name);

std::string sha256_hex(std::string_view data);

// SHA-256 over data given piece by piece (files, several fields). Single-threaded object.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex();  // finishes the digest; call once

 private:
  void* ctx_;  // EVP_MD_CTX
};
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compare in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ej
