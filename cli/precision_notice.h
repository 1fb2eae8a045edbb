// cli/precision_notice.h - one stderr line when the precision a command runs in is not what its
// name promises on this CPU (bf16 without a bfloat16 GEMM runs as fp32; int8 without VNNI
// multiplies in float): no silent slowdown, and no silent change of what was asked for.
#pragma once

#include "kernels/linear.h"

namespace bertlite::cli {

// Prints "bertlite: note: <kernels::precision_notice>" to stderr, or nothing.
void print_precision_notice(kernels::Precision precision);

}  // namespace bertlite::cli
