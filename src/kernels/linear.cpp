// kernels/linear.cpp - Linear on oneDNN matmul. The only file in bertlite that calls oneDNN.
//
// Builds against oneDNN 2.x and 3.x; the two differ in how a primitive descriptor is made
// (2.x: matmul::desc, then primitive_desc(desc, attr, engine); 3.x: primitive_desc(engine, mds...,
// attr)) and in append_eltwise (2.x takes a leading scale). Those differences are confined to
// make_matmul_pd and append_activation below, selected by DNNL_VERSION_MAJOR.
//
// Shapes (this file): M rows, K input features, N output features. oneDNN's matmul computes
// dst[M, N] = src[M, K] * weights[K, N]; our W[N, K] is exactly weights[K, N] with strides {1, K},
// so the plain layout needs no transpose, only a copy.
#include "kernels/linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <string>
#include <unordered_map>
#include <utility>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/held_signals.h"
#include "kernels/int8_gemm.h"
#include "kernels/kernel_clones.h"
#include "kernels/ref/reference.h"

namespace bertlite::kernels {
namespace {

using Desc = dnnl::memory::desc;
using Dims = dnnl::memory::dims;
using DataType = dnnl::memory::data_type;
constexpr auto kF32 = DataType::f32;

// Per-M plans beyond this many distinct M values are dropped and re-planned on demand (oneDNN's
// own primitive cache makes re-planning cheap); bounds the JIT code a long-running server keeps.
constexpr size_t kMaxCachedPlans = 256;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One stream per calling thread: a stream is cheap but not free, and CPU streams execute
// synchronously on the caller's OpenMP team, so per-thread streams keep concurrent forward()
// calls independent.
dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

std::string shape_name(int64_t N, int64_t K) {
  return "Linear[N=" + std::to_string(N) + ", K=" + std::to_string(K) + "]";
}

void append_activation(dnnl::post_ops& ops, Activation activation) {
  dnnl::algorithm algorithm;
  switch (activation) {
    case Activation::kNone:
      return;
    case Activation::kGeluErf:
      algorithm = dnnl::algorithm::eltwise_gelu_erf;
      break;
    case Activation::kGeluTanh:
      algorithm = dnnl::algorithm::eltwise_gelu_tanh;
      break;
    case Activation::kTanh:
      algorithm = dnnl::algorithm::eltwise_tanh;
      break;
    default:
      throw InvalidArgument("Linear: unknown activation");
  }
#if DNNL_VERSION_MAJOR >= 3
  ops.append_eltwise(algorithm, 0.0f, 0.0f);
#else
  ops.append_eltwise(1.0f, algorithm, 0.0f, 0.0f);
#endif
}

dnnl::primitive_attr make_attr(const LinearEpilogue& epilogue) {
  dnnl::post_ops ops;
  append_activation(ops, epilogue.activation);
  // sum post-op: dst = 1 * dst_old + (result so far), i.e. the residual the caller left in y.
  if (epilogue.accumulate) ops.append_sum(1.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

dnnl::matmul::primitive_desc make_matmul_pd(const Desc& src, const Desc& weights, const Desc* bias,
                                            const Desc& dst, const dnnl::primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  if (bias != nullptr) {
    return dnnl::matmul::primitive_desc(cpu_engine(), src, weights, *bias, dst, attr);
  }
  return dnnl::matmul::primitive_desc(cpu_engine(), src, weights, dst, attr);
#else
  if (bias != nullptr) {
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, *bias, dst), attr,
                                        cpu_engine());
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, cpu_engine());
#endif
}

// Copies `from` into a new memory of layout `to` (a reorder), or returns `from` if they match.
dnnl::memory relayout(const dnnl::memory& from, const Desc& to) {
  if (from.get_desc() == to) return from;
  dnnl::memory result(to, cpu_engine());
  dnnl::memory source = from;
  dnnl::reorder(source, result).execute(thread_stream(), source, result);
  thread_stream().wait();
  return result;
}

// float -> bfloat16 bits, round to nearest even (NaN stays NaN), as PyTorch's .bfloat16().
inline uint16_t to_bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

KERNEL_CLONES void to_bf16(uint16_t* out, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf16_bits(in[i]);
}
// The same rounding, kept in float: the weights of a bf16 Linear that runs as fp32.
void round_to_bf16(float* out, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t wide = static_cast<uint32_t>(to_bf16_bits(in[i])) << 16;
    std::memcpy(&out[i], &wide, 4);
  }
}

// Symmetric int8 quantization of each of `rows` rows: scale = max |row| / 127 (1 for a zero
// row), q = round(x / scale), so |q| <= 127 and -128 never occurs (VNNI's u8 x s8 products stay
// exact). Returns the scales.
KERNEL_CLONES void quantize_rows(int8_t* q, float* scales, const float* x, int64_t rows,
                                 int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    float max_abs = 0.0f;
    for (int64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(row[c]));
    const float scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
    const float inverse = 1.0f / scale;
    int8_t* out = q + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      out[c] = static_cast<int8_t>(std::nearbyint(std::clamp(row[c] * inverse, -127.0f, 127.0f)));
    }
    scales[r] = scale;
  }
}

// lo = min(lo, row[...]), hi = max(hi, row[...]), 8 lanes at a time. Written with vector
// extensions because GCC does not vectorize a float min/max reduction without -ffast-math (even
// under `omp simd`): the scalar loop was 80% of quantize_rows_asymmetric's time, itself 13% of
// an int8 forward pass. 8 lanes, not 16: on AVX2 GCC kept a 16-lane vector on the stack, which
// made this 28% of an int8 Linear's time (384 x 384, Zen 3). Same result as the scalar loop: a
// NaN is skipped in both.
typedef float V8 __attribute__((vector_size(32)));
inline void row_range(const float* row, int64_t cols, float& lo, float& hi) {
  V8 lo8 = {}, hi8 = {};
  for (int i = 0; i < 8; ++i) lo8[i] = lo, hi8[i] = hi;
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    V8 v;
    std::memcpy(&v, row + c, sizeof v);
    lo8 = v < lo8 ? v : lo8;
    hi8 = v > hi8 ? v : hi8;
  }
  for (int i = 0; i < 8; ++i) {
    lo = std::min(lo, lo8[i]);
    hi = std::max(hi, hi8[i]);
  }
  for (; c < cols; ++c) {
    lo = std::min(lo, row[c]);
    hi = std::max(hi, row[c]);
  }
}

// Asymmetric uint8 quantization of activation rows: the row's range [min, max] (widened to
// include 0) maps onto 0..255, x ~ scale * (q - zero). Activations are lopsided (GELU outputs
// lie in [-0.17, max]), so this resolves them up to twice as finely as a symmetric int8 range.
KERNEL_CLONES void quantize_rows_asymmetric(uint8_t* q, float* scales, float* zeros, const float* x,
                                            int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    float lo = 0.0f, hi = 0.0f;
    row_range(row, cols, lo, hi);
    const float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    const float inverse = 1.0f / scale;
    const float zero = std::nearbyint(-lo * inverse);
    uint8_t* out = q + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      out[c] =
          static_cast<uint8_t>(std::clamp(std::nearbyint(row[c] * inverse) + zero, 0.0f, 255.0f));
    }
    scales[r] = scale;
    zeros[r] = zero;
  }
}

// The value each code of quantize_rows_asymmetric stands for, scale * (q - zero): what an
// emulated int8 GEMM (below) multiplies in float.
KERNEL_CLONES void dequantize_codes(float* out, const uint8_t* q, const float* scales,
                                    const float* zeros, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = scales[r], zero = zeros[r];
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = scale * (q[r * cols + c] - zero);
  }
}

// Whether oneDNN's u8 x s8 GEMM sums exactly on this CPU. Without VNNI it multiplies with
// vpmaddubsw, which adds pairs of products into int16 and saturates (2 x 255 x 127 > 32,767): on
// a Zen 3 (AVX2) that took all-MiniLM-L6-v2's SST-2 dev features down to cosine 0.87 against
// fp32. Narrower codes avoid it but cost too much (7-bit activations: cosine 0.980; 7-bit
// weights: 0.989; the guard is 0.99), so such CPUs run bertlite's own exact kernel
// (int8_gemm.h), or without AVX2 emulate int8 in float. Found once, by running a GEMM whose
// exact result needs the full range, so it holds for whatever kernel oneDNN picks.
bool int8_gemm_sums_exactly() {
  static const bool exact = [] {
    constexpr int64_t M = 16, K = 64, N = 16;
    const Desc src_md(Dims{M, K}, DataType::u8, dnnl::memory::format_tag::ab);
    const Desc weights_md(Dims{K, N}, DataType::s8, dnnl::memory::format_tag::ab);
    const Desc dst_md(Dims{M, N}, kF32, dnnl::memory::format_tag::ab);
    std::vector<uint8_t> src(M * K, 255);
    std::vector<int8_t> weights(K * N, 127);
    std::vector<float> dst(M * N);
    try {
      const auto pd = make_matmul_pd(src_md, weights_md, nullptr, dst_md, dnnl::primitive_attr());
      dnnl::memory a(src_md, cpu_engine(), src.data()), b(weights_md, cpu_engine(), weights.data()),
          c(dst_md, cpu_engine(), dst.data());
      const HeldSignals held;
      dnnl::matmul(pd).execute(thread_stream(),
                               {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      thread_stream().wait();
    } catch (const dnnl::error&) {
      return false;  // no int8 GEMM at all: emulate
    }
    const float want = static_cast<float>(K * 255 * 127);
    return std::all_of(dst.begin(), dst.end(), [&](float v) { return v == want; });
  }();
  return exact;
}

// Whether oneDNN has a real bfloat16 GEMM on this CPU (AVX512_BF16 or AMX; oneDNN 2.x also has
// one for plain AVX-512 that converts in registers). Without one it offers only its reference
// code, or nothing (oneDNN 2.6 on AVX2 CPUs, measured on a Zen 3 and a Zen 1). Found once, by
// planning a bf16 matmul and asking oneDNN which implementation it picked.
bool bf16_gemm_is_native() {
  static const bool native = [] {
    const Desc src_md(Dims{1, 64}, DataType::bf16, dnnl::memory::format_tag::ab);
    const Desc weights_md(Dims{64, 16}, DataType::bf16, dnnl::memory::format_tag::any);
    const Desc dst_md(Dims{1, 16}, kF32, dnnl::memory::format_tag::ab);
    try {
      const auto pd = make_matmul_pd(src_md, weights_md, nullptr, dst_md, dnnl::primitive_attr());
      return !std::string(pd.impl_info_str()).starts_with("ref");
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return native;
}

// The int8 GEMM gives y[m, n] = sw[n] * sum_k q[m, k] Wq[n, k]; the real product is
// sx[m] * sw[n] * sum_k (q[m, k] - zero[m]) Wq[n, k] = sx[m] * (y[m, n] - zero[m] * c[n]) with
// c[n] = sw[n] * sum_k Wq[n, k]. Then the bias. oneDNN 2.x cannot apply per-row scales itself.
KERNEL_CLONES void dequantize_rows_add_bias(float* y, const float* row_scale, const float* row_zero,
                                            const float* compensation, const float* bias, int64_t M,
                                            int64_t N) {
  for (int64_t m = 0; m < M; ++m) {
    float* row = y + m * N;
    const float s = row_scale[m], z = row_zero[m];
    if (bias != nullptr) {
      for (int64_t n = 0; n < N; ++n) row[n] = s * (row[n] - z * compensation[n]) + bias[n];
    } else {
      for (int64_t n = 0; n < N; ++n) row[n] = s * (row[n] - z * compensation[n]);
    }
  }
}

// Runs body(begin, end) over row blocks on the compute threads: the int8 conversions are memory
// bound, and one core alone would leave half the bandwidth unused.
template <typename Body>
void for_row_blocks(int64_t rows, int64_t cols, Body body) {
  const int threads = sync_compute_threads();
  const int64_t block = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1));
  const int64_t blocks = (rows + block - 1) / block;
  if (threads <= 1 || blocks <= 1) {
    body(int64_t{0}, rows);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < blocks; ++i) body(i * block, std::min(rows, (i + 1) * block));
}

// Per-thread staging for converted activations, reused across calls.
template <typename T>
T* scratch(std::vector<T>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kF32:
      return "fp32";
    case Precision::kBF16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32" || name == "float32") return Precision::kF32;
  if (name == "bf16" || name == "bfloat16") return Precision::kBF16;
  if (name == "int8") return Precision::kInt8;
  throw InvalidArgument("precision '" + name + "' is not one of: fp32, bf16, int8");
}

struct Linear::Impl {
  // A planned matmul and the weights in the layout it reads.
  struct Plan {
    dnnl::matmul primitive;
    dnnl::memory weights;
    std::string implementation;
  };

  int64_t N = 0, K = 0;
  LinearEpilogue epilogue;
  LinearPlan plan = LinearPlan::kRuntimeM;
  Precision precision = Precision::kF32;
  bool bf16_as_fp32 = false;   // kBF16 asked for on a CPU without a bfloat16 GEMM
  bool int8_emulated = false;  // kInt8 on a CPU whose int8 GEMM saturates: see below
  // kInt8 where oneDNN's int8 GEMM would saturate but bertlite's own exact AVX2 kernel runs
  // (int8_gemm.h); then no oneDNN plan exists and `packed` is empty.
  std::unique_ptr<Int8PackedWeights> own_int8;
  DataType data_type = kF32;               // of the GEMM's weights
  DataType src_type = kF32;                // of its input rows (uint8 for kInt8)
  std::vector<float> weight_scales;        // kInt8: [N]
  std::vector<float> weight_compensation;  // kInt8: [N], sw[n] * sum_k Wq[n, k]
  std::vector<float> bias;
  Desc bias_md;
  Desc plain_md;        // weights[K, N] with strides {1, K}: W[N, K] as given
  dnnl::memory packed;  // the weight, in the layout the first plan chose (may be plain_md)
  dnnl::primitive_attr attr;

  mutable std::mutex mutex;
  // Keyed by (threads, M); M = 0 for the runtime-M plan. oneDNN sizes its blocking to the thread
  // count at planning time, so a change of --threads gets its own plan.
  mutable std::map<std::pair<int, int64_t>, std::shared_ptr<const Plan>> plans;
  mutable std::vector<dnnl::memory> layouts;  // weights_in's copies (guarded by mutex too)

  Desc rows_md(int64_t rows, int64_t cols, DataType type = kF32) const {
    return Desc(Dims{rows, cols}, type, dnnl::memory::format_tag::ab);
  }
  // Whether the GEMM runs on int8 codes (and the per-row scale, bias and activation follow it).
  bool int8_gemm() const { return precision == Precision::kInt8 && !int8_emulated && !own_int8; }
  // The bias goes to oneDNN except for an int8 GEMM, whose bias is added after the per-row scale.
  const Desc* gemm_bias() const { return bias.empty() || int8_gemm() ? nullptr : &bias_md; }
  int64_t plan_rows(int64_t M) const {
    return plan == LinearPlan::kRuntimeM ? DNNL_RUNTIME_DIM_VAL : M;
  }

  // Plans the matmul for `M` rows (or any M) with the weights in the layout oneDNN chooses.
  // Given the plain layout instead, its brgemm kernels (bf16, int8) accept it but copy the
  // weights into their blocked layout inside every call, and each plan keeps a scratchpad for
  // that copy (an SST-2 pass in bf16 peaked at 574 MB against 201 MB in fp32).
  Plan make_plan(int64_t M) const {
    const Desc src = rows_md(plan_rows(M), K, src_type), dst = rows_md(plan_rows(M), N);
    const Desc any(Dims{K, N}, data_type, dnnl::memory::format_tag::any);
    const auto pd = make_matmul_pd(src, any, gemm_bias(), dst, attr);
    return Plan{dnnl::matmul(pd), weights_in(pd.weights_desc()), pd.impl_info_str()};
  }

  // The weights in `layout`: the packed copy, or one reordered copy per layout, shared by every
  // plan that reads that layout (the plans of different row counts mostly do).
  dnnl::memory weights_in(const Desc& layout) const {
    if (packed.get_desc() == layout) return packed;
    for (const dnnl::memory& copy : layouts) {
      if (copy.get_desc() == layout) return copy;
    }
    layouts.push_back(relayout(packed, layout));
    return layouts.back();
  }

  std::shared_ptr<const Plan> plan_for(int threads, int64_t M) const {
    const std::pair<int, int64_t> key{threads, plan == LinearPlan::kRuntimeM ? 0 : M};
    std::lock_guard lock(mutex);
    if (auto it = plans.find(key); it != plans.end()) return it->second;
    if (plans.size() >= kMaxCachedPlans) plans.clear();  // in-flight calls hold their shared_ptr
    auto made = std::make_shared<const Plan>(make_plan(M));
    plans.emplace(key, made);
    return made;
  }
};

namespace {

// The attributes of the GEMM: the fused epilogue for float and bfloat16; for int8 only the
// per-output-channel weight scales (bias and activation follow the per-row scale, outside).
dnnl::primitive_attr make_gemm_attr(const LinearEpilogue& epilogue, Precision precision,
                                    const std::vector<float>& weight_scales) {
  if (precision != Precision::kInt8) return make_attr(epilogue);
  dnnl::primitive_attr attr;
#if DNNL_VERSION_MAJOR >= 3
  attr.set_scales_mask(DNNL_ARG_WEIGHTS, 1 << 1);
  (void)weight_scales;
#else
  attr.set_output_scales(1 << 1, weight_scales);
#endif
  return attr;
}

}  // namespace

std::future<void> prepare_float_gemm_code() {
  return std::async(std::launch::async, [] {
#ifdef _OPENMP
    omp_set_num_threads(1);  // this thread's own setting: no second team of workers
#endif
    // 64 rows: smaller GEMMs take a path that does not write the general kernels.
    constexpr int64_t kSize = 64;
    std::vector<float> a(kSize * kSize, 1.0f), b(kSize * kSize, 0.5f), c(kSize * kSize);
    const HeldSignals held;
    (void)dnnl_sgemm('N', 'T', kSize, kSize, kSize, 1.0f, a.data(), kSize, b.data(), kSize, 0.0f,
                     c.data(), kSize);
  });
}

void quantize_weight_rows(int8_t* q, float* scales, const float* weight, int64_t N, int64_t K) {
  quantize_rows(q, scales, weight, N, K);
}

Linear::Linear(const std::int8_t* weight, const float* scales, const float* bias, int64_t N,
               int64_t K, LinearEpilogue epilogue)
    : Linear(nullptr, bias, N, K, epilogue, LinearPlan::kDefault, Precision::kInt8,
             {weight, scales}) {}

Linear::Linear(const float* weight, const float* bias, int64_t N, int64_t K,
               LinearEpilogue epilogue, LinearPlan plan, Precision precision)
    : Linear(weight, bias, N, K, epilogue, plan, precision, {}) {}

Linear::Linear(const float* weight, const float* bias, int64_t N, int64_t K,
               LinearEpilogue epilogue, LinearPlan plan, Precision precision,
               QuantizedWeight quantized)
    : impl_(std::make_unique<Impl>()) {
  if (N < 1 || K < 1) {
    throw InvalidArgument(shape_name(N, K) + ": N and K must be >= 1");
  }
  if (weight == nullptr && (quantized.weight == nullptr || quantized.scales == nullptr)) {
    throw InvalidArgument(shape_name(N, K) + ": null weight");
  }
  if (precision == Precision::kInt8 && epilogue.accumulate) {
    throw InvalidArgument(shape_name(N, K) + ": int8 does not support an accumulating epilogue");
  }
  Impl& impl = *impl_;
  // No bfloat16 GEMM on this CPU: oneDNN would offer only its reference code, and rounding the
  // activations to bfloat16 around a float GEMM only added a pass (0.87x fp32 on a Zen 3). Such a
  // Linear runs fp32 GEMMs, at fp32's speed, on its weights rounded to bfloat16 (free, at load):
  // a `bertlite quantize --precision bf16` folder then gives what bf16 on the fly gives.
  // precision() still says kBF16, implementation() "+bf16-as-fp32", and precision_notice()
  // gives front ends the line to show.
  std::vector<float> rounded_weight;
  if (precision == Precision::kBF16 && !bf16_gemm_is_native()) {
    impl.bf16_as_fp32 = true;
    precision = Precision::kF32;
    if (weight != nullptr) {
      rounded_weight.resize(static_cast<size_t>(N * K));
      round_to_bf16(rounded_weight.data(), weight, N * K);
      weight = rounded_weight.data();
    }
  }
  impl.N = N;
  impl.K = K;
  impl.epilogue = epilogue;
  impl.precision = precision;
  // kDefault is the runtime-M plan. bench_gemm_limit --threads 1 --sweep (oneDNN 2.6, AVX2
  // gemm:jit, K = N = 768, flops per CPU-second) measured it faster for skinny batches (M = 2:
  // 34 vs 22 GFLOPS, M = 16: 82 vs 70; its prepacked row-major weight suits them) and within 3%
  // of per-M plans for M = 64..4096; and it never re-plans.
  impl.plan = plan == LinearPlan::kPerM ? LinearPlan::kPerM : LinearPlan::kRuntimeM;
  // bf16 and int8: oneDNN 2.6's fast kernels for them (brgemm: AMX, AVX512_BF16, VNNI) need M
  // fixed at planning time; with M open it falls back to gemm:jit, which measured 370 vs 538
  // GFLOPS (bf16) and 257 vs 575 GOPS (int8) on M = 4096, K = 768, N = 3072 with AMX.
  if (plan == LinearPlan::kDefault && precision != Precision::kF32) impl.plan = LinearPlan::kPerM;
  if (bias != nullptr) impl.bias.assign(bias, bias + N);
  try {
    impl.bias_md = Desc(Dims{1, N}, kF32, dnnl::memory::format_tag::ab);
    const int threads = sync_compute_threads();
    // The weight in the GEMM's data type, plain [K, N] with strides {1, K}.
    const auto fill_weight = [&](DataType type) {
      impl.data_type = type;
      impl.src_type = type == DataType::s8 ? DataType::u8 : type;
      impl.plain_md = Desc(Dims{K, N}, type, Dims{1, K});
      if (type == kF32 && precision == Precision::kF32) {
        // Borrowed: planning reorders it straight into the layout the GEMM wants (a copy of
        // the weights, often mmap'd, saved; plan_all copies it if kept as it is).
        impl.packed = dnnl::memory(impl.plain_md, cpu_engine(), const_cast<float*>(weight));
        impl.attr = make_gemm_attr(epilogue, precision, impl.weight_scales);
        return;
      }
      impl.packed = dnnl::memory(impl.plain_md, cpu_engine());
      void* data = impl.packed.get_data_handle();
      if (type == DataType::bf16) {
        to_bf16(static_cast<uint16_t*>(data), weight, N * K);
      } else if (type == DataType::s8) {
        impl.weight_scales.resize(static_cast<size_t>(N));
        auto* q = static_cast<int8_t*>(data);
        if (quantized.weight != nullptr) {
          for (int64_t i = 0; i < N * K; ++i) {
            if (quantized.weight[i] == -128) {
              throw InvalidArgument(shape_name(N, K) + ": int8 weight -128 at element " +
                                    std::to_string(i) + "; quantized weights lie in [-127, 127]");
            }
          }
          std::memcpy(q, quantized.weight, static_cast<size_t>(N * K));
          impl.weight_scales.assign(quantized.scales, quantized.scales + N);
        } else {
          quantize_rows(q, impl.weight_scales.data(), weight, N, K);
        }
        impl.weight_compensation.resize(static_cast<size_t>(N));
        for (int64_t n = 0; n < N; ++n) {
          int64_t sum = 0;
          for (int64_t k = 0; k < K; ++k) sum += q[n * K + k];
          impl.weight_compensation[n] = impl.weight_scales[n] * static_cast<float>(sum);
        }
      }
      impl.attr = make_gemm_attr(epilogue, precision, impl.weight_scales);
    };
    fill_weight(precision == Precision::kBF16   ? DataType::bf16
                : precision == Precision::kInt8 ? DataType::s8
                                                : kF32);
    // An int8 GEMM of oneDNN's that would saturate (CPUs without VNNI): on AVX2, bertlite's own
    // exact kernel, which sums what a VNNI GEMM sums; oneDNN then plans nothing.
    if (precision == Precision::kInt8 && !int8_gemm_sums_exactly() && int8_gemm_supported() &&
        K <= kInt8GemmMaxK) {
      impl.own_int8 = std::make_unique<Int8PackedWeights>(
          static_cast<const int8_t*>(impl.packed.get_data_handle()), N, K);
      impl.packed = dnnl::memory();
      return;
    }
    // Without AVX2 either: the same quantized weights and activations, multiplied in float.
    // Features then equal a VNNI machine's to float rounding, and the guard's accuracy holds;
    // the speed and memory are fp32's.
    if (precision == Precision::kInt8 && !int8_gemm_sums_exactly()) {
      impl.int8_emulated = true;
      impl.plan = plan == LinearPlan::kPerM ? LinearPlan::kPerM : LinearPlan::kRuntimeM;
      const auto* q = static_cast<const int8_t*>(impl.packed.get_data_handle());
      impl.data_type = impl.src_type = kF32;
      impl.plain_md = Desc(Dims{K, N}, kF32, Dims{1, K});
      dnnl::memory dequantized(impl.plain_md, cpu_engine());
      auto* w = static_cast<float*>(dequantized.get_data_handle());
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < K; ++k) w[n * K + k] = q[n * K + k] * impl.weight_scales[n];
      }
      impl.packed = dequantized;
      impl.attr = make_attr(epilogue);
    }

    const auto prepack = [&]() {
      // Plan once with M left open and a weight layout of oneDNN's choice, and keep the weight
      // only in that layout. Returns false if this oneDNN cannot leave M open here.
      const Desc src = impl.rows_md(DNNL_RUNTIME_DIM_VAL, K, impl.src_type);
      const Desc dst = impl.rows_md(DNNL_RUNTIME_DIM_VAL, N);
      const Desc any(Dims{K, N}, impl.data_type, dnnl::memory::format_tag::any);
      dnnl::matmul::primitive_desc pd;
      try {
        pd = make_matmul_pd(src, any, impl.gemm_bias(), dst, impl.attr);
      } catch (const dnnl::error&) {
        return false;
      }
      impl.packed = relayout(impl.packed, pd.weights_desc());
      impl.plans.emplace(std::pair<int, int64_t>{threads, 0},
                         std::make_shared<const Impl::Plan>(
                             Impl::Plan{dnnl::matmul(pd), impl.packed, pd.impl_info_str()}));
      return true;
    };
    const auto plan_all = [&]() {
      impl.plans.clear();
      impl.layouts.clear();
      if (impl.plan == LinearPlan::kRuntimeM && !prepack()) impl.plan = LinearPlan::kPerM;
      if (impl.plan == LinearPlan::kPerM) {
        impl.plan_for(threads, 1);  // fail now, not mid-model
        // Keep the weights only in the layout the GEMM chose (later plans reorder from it).
        if (!impl.layouts.empty()) {
          impl.packed = impl.layouts.front();
          impl.layouts.clear();
        }
      }
      // The GEMM kept the caller's float weights as they were: keep a copy, not the borrow.
      if (impl.packed.get_data_handle() == static_cast<const void*>(weight)) {
        dnnl::memory owned(impl.plain_md, cpu_engine());
        std::memcpy(owned.get_data_handle(), weight, sizeof(float) * N * K);
        impl.packed = owned;
        impl.plans.clear();
        impl.layouts.clear();
        if (impl.plan == LinearPlan::kRuntimeM) prepack();
        if (impl.plan == LinearPlan::kPerM) impl.plan_for(threads, 1);
      }
    };
    plan_all();
  } catch (const dnnl::error& e) {
    throw Error(shape_name(N, K) + ": oneDNN could not plan the matmul: " + e.what());
  }
}

Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

void Linear::forward(float* y, const float* x, int64_t M) const {
  const Impl& impl = *impl_;
  if (M < 0) {
    throw InvalidArgument(shape_name(impl.N, impl.K) + ".forward: M must be >= 0, got " +
                          std::to_string(M));
  }
  if (M == 0) return;
  if (y == nullptr || x == nullptr) {
    throw InvalidArgument(shape_name(impl.N, impl.K) + ".forward: null x or y");
  }
  if (reference_mode()) {
    const std::vector<float> w = weight();
    linear_reference(y, x, w.data(), impl.bias.empty() ? nullptr : impl.bias.data(), M, impl.K,
                     impl.N, impl.epilogue);
    return;
  }
  if (impl.own_int8) return forward_own_int8(y, x, M);
  try {
    const int threads = sync_compute_threads();
    const auto plan = impl.plan_for(threads, M);
    const dnnl::engine& engine = cpu_engine();
    // Activations in the GEMM's input format, staged per thread.
    thread_local std::vector<uint16_t> bf16_rows;
    thread_local std::vector<float> float_rows;
    thread_local std::vector<uint8_t> uint8_rows;
    thread_local std::vector<float> row_scales;
    thread_local std::vector<float> row_zeros;
    // oneDNN reads but never writes src; its API has no const handle.
    void* src_data = const_cast<float*>(x);
    if (impl.precision == Precision::kBF16) {
      src_data = scratch(bf16_rows, static_cast<size_t>(M * impl.K));
      to_bf16(static_cast<uint16_t*>(src_data), x, M * impl.K);
    } else if (impl.precision == Precision::kInt8) {
      auto* q = scratch(uint8_rows, static_cast<size_t>(M * impl.K));
      float* scales = scratch(row_scales, static_cast<size_t>(M));
      float* zeros = scratch(row_zeros, static_cast<size_t>(M));
      // Emulated: the codes turned back into the values they stand for, for a float GEMM.
      float* fake =
          impl.int8_emulated ? scratch(float_rows, static_cast<size_t>(M * impl.K)) : nullptr;
      const int64_t K = impl.K;
      for_row_blocks(M, K, [&](int64_t begin, int64_t end) {
        quantize_rows_asymmetric(q + begin * K, scales + begin, zeros + begin, x + begin * K,
                                 end - begin, K);
        if (fake != nullptr) {
          dequantize_codes(fake + begin * K, q + begin * K, scales + begin, zeros + begin,
                           end - begin, K);
        }
      });
      src_data = fake != nullptr ? static_cast<void*>(fake) : static_cast<void*>(q);
    }
    dnnl::memory src(impl.rows_md(M, impl.K, impl.src_type), engine, src_data);
    dnnl::memory dst(impl.rows_md(M, impl.N), engine, y);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
    if (impl.gemm_bias() != nullptr) {
      args.emplace(DNNL_ARG_BIAS,
                   dnnl::memory(impl.bias_md, engine, const_cast<float*>(impl.bias.data())));
    }
#if DNNL_VERSION_MAJOR >= 3
    if (impl.int8_gemm()) {
      args.emplace(DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS,
                   dnnl::memory(Desc(Dims{impl.N}, kF32, dnnl::memory::format_tag::a), engine,
                                const_cast<float*>(impl.weight_scales.data())));
    }
#endif
    dnnl::stream& stream = thread_stream();
    {
      const HeldSignals held;  // oneDNN's AVX GEMM kernels move rsp into the heap
      plan->primitive.execute(stream, args);
      stream.wait();
    }
    if (impl.int8_gemm()) {
      const int64_t N = impl.N;
      const float* scales = row_scales.data();
      const float* zeros = row_zeros.data();
      const float* b = impl.bias.empty() ? nullptr : impl.bias.data();
      const Activation activation = impl.epilogue.activation;
      for_row_blocks(M, N, [&](int64_t begin, int64_t end) {
        dequantize_rows_add_bias(y + begin * N, scales + begin, zeros + begin,
                                 impl.weight_compensation.data(), b, end - begin, N);
        activation_forward(y + begin * N, (end - begin) * N, activation);
      });
    }
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl.N, impl.K) + ".forward(M=" + std::to_string(M) +
                "): oneDNN failed: " + e.what());
  }
}

void Linear::forward_own_int8(float* y, const float* x, int64_t M) const {
  const Impl& impl = *impl_;
  const Int8PackedWeights& weights = *impl.own_int8;
  const int64_t K = impl.K, padded_K = weights.padded_K();
  thread_local std::vector<uint8_t> codes, magnitudes;
  thread_local std::vector<int8_t> centred;
  thread_local std::vector<float> row_scales, row_zeros;
  uint8_t* q = scratch(codes, static_cast<size_t>(M * K));
  const auto rows_size = static_cast<size_t>(int8_gemm_rows(M) * padded_K);
  const Int8Rows rows{scratch(magnitudes, rows_size), scratch(centred, rows_size)};
  // The rows past M that the kernel reads in its last 4-row tile: zero.
  std::memset(rows.magnitudes + M * padded_K, 0, rows_size - M * padded_K);
  std::memset(rows.centred + M * padded_K, 0, rows_size - M * padded_K);
  float* scales = scratch(row_scales, static_cast<size_t>(M));
  float* zeros = scratch(row_zeros, static_cast<size_t>(M));
  for_row_blocks(M, K, [&](int64_t begin, int64_t end) {
    quantize_rows_asymmetric(q + begin * K, scales + begin, zeros + begin, x + begin * K,
                             end - begin, K);
    centre_codes({rows.magnitudes + begin * padded_K, rows.centred + begin * padded_K},
                 q + begin * K, end - begin, K, padded_K);
  });
  int8_gemm(y, rows, M, weights,
            {scales, zeros, impl.weight_scales.data(),
             impl.bias.empty() ? nullptr : impl.bias.data(), impl.epilogue.activation});
}

int64_t Linear::in_features() const {
  return impl_->K;
}
int64_t Linear::out_features() const {
  return impl_->N;
}
const LinearEpilogue& Linear::epilogue() const {
  return impl_->epilogue;
}
const std::vector<float>& Linear::bias() const {
  return impl_->bias;
}

Precision Linear::precision() const {
  return impl_->bf16_as_fp32 ? Precision::kBF16 : impl_->precision;
}

std::string precision_notice(Precision precision) {
  if (precision == Precision::kBF16 && !bf16_gemm_is_native()) {
    return "bf16: this CPU has no bfloat16 GEMM (AVX512_BF16 or AMX), so the bf16-rounded "
           "weights are multiplied in fp32: fp32's speed, no faster";
  }
  if (precision == Precision::kInt8 && !int8_gemm_sums_exactly() && !int8_gemm_supported()) {
    return "int8: this CPU has no VNNI, and its int8 GEMM would saturate, so the quantized values "
           "are multiplied in float: int8's features, no faster than fp32";
  }
  return "";
}

std::vector<float> Linear::weight() const {
  const Impl& impl = *impl_;
  std::vector<float> w(static_cast<size_t>(impl.N * impl.K));
  if (impl.own_int8) {
    const std::vector<int8_t> q = impl.own_int8->unpack();
    for (int64_t n = 0; n < impl.N; ++n) {
      for (int64_t k = 0; k < impl.K; ++k) {
        w[n * impl.K + k] = q[n * impl.K + k] * impl.weight_scales[n];
      }
    }
    return w;
  }
  try {
    // Reordering into a float [K, N] view with strides {1, K} also converts bf16 / s8.
    const Desc plain_f32(Dims{impl.K, impl.N}, kF32, Dims{1, impl.K});
    dnnl::memory plain(plain_f32, cpu_engine(), w.data());
    dnnl::memory packed = impl.packed;
    if (packed.get_desc() == plain_f32) {
      std::memcpy(w.data(), packed.get_data_handle(), sizeof(float) * w.size());
    } else {
      dnnl::reorder(packed, plain).execute(thread_stream(), packed, plain);
      thread_stream().wait();
    }
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl.N, impl.K) + ".weight: oneDNN reorder failed: " + e.what());
  }
  if (impl.int8_gemm()) {  // emulated int8 holds its weights dequantized already
    for (int64_t n = 0; n < impl.N; ++n) {
      for (int64_t k = 0; k < impl.K; ++k) w[n * impl.K + k] *= impl.weight_scales[n];
    }
  }
  return w;
}

std::string Linear::implementation() const {
  if (impl_->own_int8) return "bertlite:avx2-int8-exact";
  try {
    return impl_->plan_for(sync_compute_threads(), 1)->implementation +
           (impl_->bf16_as_fp32 ? "+bf16-as-fp32" : "") +
           (impl_->int8_emulated ? "+int8-emulated" : "");
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl_->N, impl_->K) + ": oneDNN could not plan the matmul: " + e.what());
  }
}

}  // namespace bertlite::kernels
