#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "api/part_urls.h"

namespace ej::api {
namespace {

struct Parsed {
  std::string id, part, sig;
  int64_t expires = 0;
};

Parsed parse(const std::string& path) {
  // /v1/dataset-parts/<id>/<part>?expires=<n>&sig=<hex>
  Parsed p;
  std::string rest = path.substr(std::string("/v1/dataset-parts/").size());
  p.id = rest.substr(0, rest.find('/'));
  rest = rest.substr(rest.find('/') + 1);
  p.part = rest.substr(0, rest.find('?'));
  size_t e = rest.find("expires=") + 8;
  p.expires = std::stoll(rest.substr(e, rest.find('&') - e));
  p.sig = rest.substr(rest.find("sig=") + 4);
  return p;
}

TEST(PartUrls, ValidLinkVerifies) {
  PartUrlSigner s("secret-secret-secret-secret-secret", 3600);
  Parsed p = parse(s.signed_path("ds-abc123", "0", 1000));
  EXPECT_EQ(p.id, "ds-abc123");
  EXPECT_EQ(p.part, "0");
  EXPECT_EQ(p.expires, 4600);
  EXPECT_TRUE(s.verify(p.id, p.part, p.expires, p.sig, 1000));
  EXPECT_TRUE(s.verify(p.id, p.part, p.expires, p.sig, 4600));
}

TEST(PartUrls, ExpiredLinkIsRefused) {
  PartUrlSigner s("secret-secret-secret-secret-secret", 60);
  Parsed p = parse(s.signed_path("ds", "0", 1000));
  EXPECT_FALSE(s.verify(p.id, p.part, p.expires, p.sig, 1061));
}

TEST(PartUrls, TamperedLinksAreRefused) {
  PartUrlSigner s("secret-secret-secret-secret-secret", 60);
  Parsed p = parse(s.signed_path("ds", "0", 1000));
  EXPECT_FALSE(s.verify("other", p.part, p.expires, p.sig, 1000));     // other dataset
  EXPECT_FALSE(s.verify(p.id, "1", p.expires, p.sig, 1000));           // other part
  EXPECT_FALSE(s.verify(p.id, p.part, p.expires + 100, p.sig, 1000));  // extended expiry
  std::string bad = p.sig;
  bad[0] = bad[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(s.verify(p.id, p.part, p.expires, bad, 1000));  // flipped signature
  EXPECT_FALSE(s.verify(p.id, p.part, p.expires, "", 1000));
  PartUrlSigner other("another-secret-another-secret-xx", 60);
  EXPECT_FALSE(other.verify(p.id, p.part, p.expires, p.sig, 1000));  // other server key
}

}  // namespace
}  // namespace ej::api
