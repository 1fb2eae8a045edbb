// tests/util/progress_test.cpp - the progress line's text and the number formats it uses.
#include "util/progress.h"

#include <gtest/gtest.h>

namespace bertlite::util {
namespace {

TEST(Progress, FormatsCountsAndDurations) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(6920), "6,920");
  EXPECT_EQ(format_count(1234567), "1,234,567");
  EXPECT_EQ(format_count(-1000), "-1,000");
  EXPECT_EQ(format_duration(3.4), "0:03");
  EXPECT_EQ(format_duration(62), "1:02");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, RendersBarRateAndEta) {
  EXPECT_EQ(ProgressBar::render("embedding", 500, 1000, "sentences", 2.0, 10),
            "embedding  [#####.....]  500/1,000 sentences  250/s  ETA 0:02");
  // Done: no ETA. Unknown total: no bar.
  EXPECT_EQ(ProgressBar::render("x", 10, 10, "rows", 1.0, 4), "x  [####]  10/10 rows  10/s");
  EXPECT_EQ(ProgressBar::render("x", 10, 0, "rows", 0.0, 4), "x  10 rows");
}

TEST(Progress, CountsWhenNotDrawing) {
  ProgressBar bar("quiet", 3, "items", /*enabled=*/false);
  bar.advance(1);
  bar.advance(2);
  EXPECT_EQ(bar.done(), 3);
  bar.finish();
  bar.finish();  // twice is harmless
}

}  // namespace
}  // namespace bertlite::util
