// Failpoints: actions named in EMBEDJOBS_FAILPOINTS (read once, at the first call), `N*action`
// acting on the first N hits only.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/error.h"
#include "common/failpoint.h"

namespace ej {
namespace {

TEST(Failpoint, ActsAsNamedAndCountsHits) {
  // The table is read at the first call in the process: this test is the only one here.
  ::setenv("EMBEDJOBS_FAILPOINTS", "t.always=error,t.twice=2*error,t.nap=sleep:1", 1);
  EXPECT_TRUE(failpoints_enabled());
  EXPECT_NO_THROW(failpoint("t.unknown"));
  EXPECT_NO_THROW(failpoint("t.nap"));
  for (int i = 0; i < 3; ++i) EXPECT_THROW(failpoint("t.always"), Error);
  EXPECT_THROW(failpoint("t.twice"), Error);
  EXPECT_THROW(failpoint("t.twice"), Error);
  EXPECT_NO_THROW(failpoint("t.twice"));  // the first two hits only
  EXPECT_NO_THROW(failpoint("t.twice"));
  try {
    failpoint("t.always");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_STREQ(e.what(), "failpoint t.always");
  }
}

}  // namespace
}  // namespace ej
