#include <gtest/gtest.h>

#include <set>

#include "common/clock.h"
#include "common/ids.h"

namespace ej {
namespace {

TEST(Clock, FormatsRfc3339WithZ) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(1705311000123456), "2024-01-15T09:30:00.123456Z");
}

TEST(Clock, ParsesZOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("2024-01-15T09:30:00.123456Z"), 1705311000123456);
  EXPECT_EQ(parse_rfc3339("2024-01-15T09:30:00Z"), 1705311000000000);
  EXPECT_EQ(parse_rfc3339("2024-01-15T10:30:00.5+01:00"), 1705311000500000);
  EXPECT_EQ(parse_rfc3339("2024-02-01T00:00:00.000Z"), 1706745600000000);
  EXPECT_FALSE(parse_rfc3339("2024-01-15 garbage").has_value());
  EXPECT_FALSE(parse_rfc3339("2024-13-15T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("").has_value());
}

TEST(Ids, DatasetIdsAreSlugPlusSixAlnum) {
  std::string id = make_dataset_id("My Sample_File.csv");
  ASSERT_EQ(id.rfind("my-sample-file-csv-", 0), 0u) << id;
  std::string suffix = id.substr(id.size() - 6);
  for (char c : suffix)
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) && !std::isupper(c));
  EXPECT_EQ(slugify("!!!"), "dataset");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(random_alnum(6));
  EXPECT_GT(seen.size(), 195u);
}

TEST(Ids, UuidShape) {
  std::string u = random_uuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[8], '-');
  EXPECT_EQ(u[14], '4');
}

TEST(Ids, Sha256AndHmacKnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace ej

namespace ej {
namespace {

TEST(Sha256, StreamingEqualsOneShotAndTheKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  h.update(std::string_view("bc"));
  EXPECT_EQ(h.hex(), sha256_hex("abc"));
}

}  // namespace
}  // namespace ej
