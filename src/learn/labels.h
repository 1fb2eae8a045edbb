// learn/labels.h - text labels from a data set to the int64 class labels the learners take.
//
// scikit-learn sorts the distinct labels (classes_) and a classifier's binary "positive" class
// is the second of them. To pick the same classes in the same order, encode_labels sorts the
// distinct texts as numpy would: numerically when every label is an integer (as pandas would
// have parsed the column: "2" < "10"), else by code point (UTF-8 byte order).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bertlite::learn {

struct EncodedLabels {
  std::vector<std::string> names;   // distinct labels, sorted as above; class k is names[k]
  std::vector<std::int64_t> codes;  // per row: its label's index in names (0 .. names.size()-1)
  bool numeric = false;             // the labels were all integers
};

// Throws InvalidArgument naming the row of an empty label.
EncodedLabels encode_labels(std::span<const std::string> labels);

}  // namespace bertlite::learn
