// tests/kernels/rows_test.cpp - pooling, L2 normalisation, bias and embedding rows.
#include "kernels/rows.h"

#include <gtest/gtest.h>

#include <cmath>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"
#include "kernels/test_util.h"

namespace bertlite::kernels {
namespace {

using testing::random_vector;

TEST(L2Normalize, MatchesReferenceAndGivesUnitRows) {
  const int64_t M = 33, C = 384;
  const auto in = random_vector(M * C, 71, -5.0f, 5.0f);
  std::vector<float> out(M * C), ref(M * C);
  l2_normalize_rows(out.data(), in.data(), M, C);
  l2_normalize_rows_reference(ref.data(), in.data(), M, C, 1e-12f);
  // Outputs are <= 1 in magnitude; float rounding of x * (1/norm) is within 2 ulps of 1.
  EXPECT_CLOSE(out, ref, 2.5e-7);
  for (int64_t m = 0; m < M; ++m) {
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += double(out[m * C + c]) * out[m * C + c];
    EXPECT_NEAR(std::sqrt(sq), 1.0, 1e-6);
  }
}

TEST(L2Normalize, ZeroRowStaysZeroAndInPlaceWorks) {
  std::vector<float> v{0, 0, 0, 3, 4, 0};
  l2_normalize_rows(v.data(), v.data(), 2, 3);
  EXPECT_EQ(v, (std::vector<float>{0, 0, 0, 0.6f, 0.8f, 0}));
}

TEST(MeanPool, AveragesRows) {
  const std::vector<float> in{1, 2, 3, 4, 5, 6};  // [T=3, C=2]
  std::vector<float> out(2);
  mean_pool(out.data(), in.data(), 3, 2);
  EXPECT_EQ(out, (std::vector<float>{3, 4}));
  EXPECT_THROW(mean_pool(out.data(), in.data(), 0, 2), InvalidArgument);
}

TEST(AddBias, AddsToEveryRow) {
  std::vector<float> v{1, 1, 1, 2, 2, 2};
  const std::vector<float> b{10, 20, 30};
  add_bias(v.data(), b.data(), 2, 3);
  EXPECT_EQ(v, (std::vector<float>{11, 21, 31, 12, 22, 32}));
}

TEST(Embedding, LookupAndAddGatherRowsAndCheckIds) {
  const std::vector<float> table{0, 1, 10, 11, 20, 21};  // [V=3, C=2]
  const std::vector<int32_t> ids{2, 0, 2};
  std::vector<float> out(6);
  embedding_lookup(out.data(), table.data(), ids.data(), 3, 2, 3);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1, 20, 21}));
  const std::vector<int32_t> more{1, 1, 0};
  embedding_add(out.data(), table.data(), more.data(), 3, 2, 3);
  EXPECT_EQ(out, (std::vector<float>{30, 32, 10, 12, 20, 22}));
  const std::vector<int32_t> bad{0, 3, 0};
  try {
    embedding_lookup(out.data(), table.data(), bad.data(), 3, 2, 3);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("id 3 at position 1"), std::string::npos) << e.what();
  }
  const std::vector<int32_t> negative{-1};
  EXPECT_THROW(embedding_add(out.data(), table.data(), negative.data(), 1, 2, 3), InvalidArgument);
}

}  // namespace
}  // namespace bertlite::kernels
