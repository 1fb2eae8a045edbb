#include "precision_notice.h"

#include <cstdio>
#include <string>

namespace bertlite::cli {

void print_precision_notice(kernels::Precision precision) {
  const std::string notice = kernels::precision_notice(precision);
  if (!notice.empty()) std::fprintf(stderr, "bertlite: note: %s\n", notice.c_str());
}

}  // namespace bertlite::cli
