// fuzz/tensor_checks.h - the checks safetensors_fuzz and torch_checkpoint_fuzz share: every
// tensor a reader accepted can be listed and loaded without touching memory outside the input,
// and nothing it claims needs more memory than the input justifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "bertlite/error.h"
#include "fuzz_checks.h"
#include "io/tensor_file.h"

namespace bertlite::fuzz {

// Loads every tensor of `file` every way the TensorFile offers. `input_size` is the size of
// the file the reader parsed: a tensor whose float32 copy would need more than a generous
// multiple of it is a reader that let a header promise memory the file does not back.
inline void check_tensor_file(const io::TensorFile& file, std::size_t input_size) {
  const std::uint64_t allowance = 16 * static_cast<std::uint64_t>(input_size) + 65536;
  for (const io::TensorInfo& info : file.tensors()) {
    FUZZ_CHECK(file.contains(info.name));
    FUZZ_CHECK(file.find(info.name) != nullptr);
    const std::optional<std::int64_t> count = io::checked_element_count(info.shape);
    FUZZ_CHECK(count.has_value());
    FUZZ_CHECK(info.element_count() == *count);
    // An 8-byte copy per element (integers) is the most any accessor allocates.
    FUZZ_CHECK(static_cast<std::uint64_t>(*count) <= allowance / 8);
    try {
      const io::FloatTensor t = file.floats(info.name);
      FUZZ_CHECK(t.data.size() == static_cast<std::size_t>(*count));
      FUZZ_CHECK(std::equal(t.shape.begin(), t.shape.end(), info.shape.begin(), info.shape.end()));
      volatile float sink = 0;  // reads every element, so ASan sees an out-of-bounds view
      for (float v : t.data) sink = sink + v;
      (void)sink;
      // A second request returns the same view.
      FUZZ_CHECK(file.floats(info.name).data.data() == t.data.data());
    } catch (const Error&) {
    }
    try {
      const std::vector<std::int64_t> values = file.integers(info.name);
      FUZZ_CHECK(values.size() == static_cast<std::size_t>(*count));
    } catch (const Error&) {
    }
    try {
      const std::span<const std::byte> bytes = file.bytes(info.name);
      FUZZ_CHECK(bytes.size() ==
                 static_cast<std::size_t>(*count) * io::dtype_size(info.source_dtype));
      volatile std::byte sink{};
      for (std::byte b : bytes) sink = sink ^ b;
      (void)sink;
    } catch (const Error&) {
    }
    (void)file.is_zero_copy(info.name);
  }
}

}  // namespace bertlite::fuzz
