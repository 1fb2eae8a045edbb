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

#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <utility>

#include "bertlite/error.h"
#include "kernels/dispatch.h"
#include "kernels/ref/reference.h"

namespace bertlite::kernels {
namespace {

using Desc = dnnl::memory::desc;
using Dims = dnnl::memory::dims;
constexpr auto kF32 = dnnl::memory::data_type::f32;

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

}  // namespace

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
  std::vector<float> bias;
  Desc bias_md;
  Desc plain_md;        // weights[K, N] with strides {1, K}: W[N, K] as given
  dnnl::memory packed;  // the weight, in the layout the first plan chose (may be plain_md)
  dnnl::primitive_attr attr;

  mutable std::mutex mutex;
  // Keyed by (threads, M); M = 0 for the runtime-M plan. oneDNN sizes its blocking to the thread
  // count at planning time, so a change of --threads gets its own plan.
  mutable std::map<std::pair<int, int64_t>, std::shared_ptr<const Plan>> plans;

  Desc rows_md(int64_t rows, int64_t cols) const {
    return Desc(Dims{rows, cols}, kF32, dnnl::memory::format_tag::ab);
  }
  int64_t plan_rows(int64_t M) const {
    return plan == LinearPlan::kRuntimeM ? DNNL_RUNTIME_DIM_VAL : M;
  }

  // Plans the matmul for `M` rows (or any M): first with the weights in the layout we already
  // hold, and only if oneDNN refuses that, with a layout of its choice (and a reordered copy).
  Plan make_plan(int64_t M) const {
    const Desc src = rows_md(plan_rows(M), K), dst = rows_md(plan_rows(M), N);
    const Desc* bias_ptr = bias.empty() ? nullptr : &bias_md;
    dnnl::matmul::primitive_desc pd;
    try {
      pd = make_matmul_pd(src, packed.get_desc(), bias_ptr, dst, attr);
    } catch (const dnnl::error&) {
      const Desc any(Dims{K, N}, kF32, dnnl::memory::format_tag::any);
      pd = make_matmul_pd(src, any, bias_ptr, dst, attr);
    }
    return Plan{dnnl::matmul(pd), relayout(packed, pd.weights_desc()), pd.impl_info_str()};
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

Linear::Linear(const float* weight, const float* bias, int64_t N, int64_t K,
               LinearEpilogue epilogue, LinearPlan plan)
    : impl_(std::make_unique<Impl>()) {
  if (N < 1 || K < 1) {
    throw InvalidArgument(shape_name(N, K) + ": N and K must be >= 1");
  }
  if (weight == nullptr) throw InvalidArgument(shape_name(N, K) + ": null weight");
  Impl& impl = *impl_;
  impl.N = N;
  impl.K = K;
  impl.epilogue = epilogue;
  // kDefault is the runtime-M plan. bench_gemm_limit --threads 1 --sweep (oneDNN 2.6, AVX2
  // gemm:jit, K = N = 768, flops per CPU-second) measured it faster for skinny batches (M = 2:
  // 34 vs 22 GFLOPS, M = 16: 82 vs 70; its prepacked row-major weight suits them) and within 3%
  // of per-M plans for M = 64..4096; and it never re-plans.
  impl.plan = plan == LinearPlan::kPerM ? LinearPlan::kPerM : LinearPlan::kRuntimeM;
  if (bias != nullptr) impl.bias.assign(bias, bias + N);
  try {
    impl.attr = make_attr(epilogue);
    impl.bias_md = Desc(Dims{1, N}, kF32, dnnl::memory::format_tag::ab);
    impl.plain_md = Desc(Dims{K, N}, kF32, Dims{1, K});
    impl.packed = dnnl::memory(impl.plain_md, cpu_engine());
    std::memcpy(impl.packed.get_data_handle(), weight, sizeof(float) * N * K);

    const int threads = sync_compute_threads();
    if (impl.plan == LinearPlan::kRuntimeM) {
      // Prepack: plan once with a layout of oneDNN's choice and keep the weight only in it.
      const Desc src = impl.rows_md(DNNL_RUNTIME_DIM_VAL, K);
      const Desc dst = impl.rows_md(DNNL_RUNTIME_DIM_VAL, N);
      const Desc any(Dims{K, N}, kF32, dnnl::memory::format_tag::any);
      dnnl::matmul::primitive_desc pd;
      bool planned = true;
      try {
        pd = make_matmul_pd(src, any, impl.bias.empty() ? nullptr : &impl.bias_md, dst, impl.attr);
      } catch (const dnnl::error&) {
        planned = false;  // this oneDNN cannot leave M open here: plan per M instead
      }
      if (planned) {
        impl.packed = relayout(impl.packed, pd.weights_desc());
        impl.plans.emplace(std::pair<int, int64_t>{threads, 0},
                           std::make_shared<const Impl::Plan>(
                               Impl::Plan{dnnl::matmul(pd), impl.packed, pd.impl_info_str()}));
      } else {
        impl.plan = LinearPlan::kPerM;
      }
    }
    if (impl.plan == LinearPlan::kPerM) impl.plan_for(threads, 1);  // fail now, not mid-model
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
  try {
    const int threads = sync_compute_threads();
    const auto plan = impl.plan_for(threads, M);
    const dnnl::engine& engine = cpu_engine();
    // oneDNN reads but never writes src; its API has no const handle.
    dnnl::memory src(impl.rows_md(M, impl.K), engine, const_cast<float*>(x));
    dnnl::memory dst(impl.rows_md(M, impl.N), engine, y);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
    if (!impl.bias.empty()) {
      args.emplace(DNNL_ARG_BIAS,
                   dnnl::memory(impl.bias_md, engine, const_cast<float*>(impl.bias.data())));
    }
    dnnl::stream& stream = thread_stream();
    plan->primitive.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl.N, impl.K) + ".forward(M=" + std::to_string(M) +
                "): oneDNN failed: " + e.what());
  }
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

std::vector<float> Linear::weight() const {
  const Impl& impl = *impl_;
  std::vector<float> w(static_cast<size_t>(impl.N * impl.K));
  try {
    dnnl::memory plain(impl.plain_md, cpu_engine(), w.data());
    dnnl::memory packed = impl.packed;
    if (packed.get_desc() == impl.plain_md) {
      std::memcpy(w.data(), packed.get_data_handle(), sizeof(float) * w.size());
    } else {
      dnnl::reorder(packed, plain).execute(thread_stream(), packed, plain);
      thread_stream().wait();
    }
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl.N, impl.K) + ".weight: oneDNN reorder failed: " + e.what());
  }
  return w;
}

std::string Linear::implementation() const {
  try {
    return impl_->plan_for(sync_compute_threads(), 1)->implementation;
  } catch (const dnnl::error& e) {
    throw Error(shape_name(impl_->N, impl_->K) + ": oneDNN could not plan the matmul: " + e.what());
  }
}

}  // namespace bertlite::kernels
