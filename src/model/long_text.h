// model/long_text.h - texts longer than the model: cut them, refuse them, or read them in
// overlapping windows.
//
// A window is a run of the text's own tokens that fits the model with the special tokens the
// tokenizer put around the whole text ([CLS] ... [SEP] for BERT), so each window is encoded as
// a sequence of its own, exactly as a short text would be. Consecutive windows share `stride`
// tokens, as Hugging Face's `return_overflowing_tokens=True, stride=N` does, so a phrase cut at
// one window's edge is whole in the next.
//
//   Encoding full = tokenizer.encode(document);                   // no max_length: every token
//   for (const Window& w : plan_windows(full, 512, 128))
//     batch.add(window_encoding(full, w).ids, ...);
//
// What the windows give is then combined per text: features pooled over windows
// (WindowPooling), and a classifier's probabilities averaged over them.
#pragma once

#include <bertlite/tokenizer.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bertlite::model {

enum class LongText {
  kTruncate,  // keep the first max_length tokens (and count the text as truncated)
  kWindow,    // overlapping windows of max_length tokens, combined
  kError,     // an InvalidArgument naming the text
};

// How window features become the text's features.
enum class WindowPooling {
  kMean,      // the mean of the windows' vectors
  kMax,       // the largest value of each dimension
  kWeighted,  // the mean weighted by each window's real (non-special) tokens
};

LongText parse_long_text(std::string_view name);  // truncate, window, error
std::string_view long_text_name(LongText mode);
WindowPooling parse_window_pooling(std::string_view name);  // mean, max, weighted
std::string_view window_pooling_name(WindowPooling pooling);

// One window over an encoding's content tokens: tokens [begin, end) of the full encoding, and
// the bytes of the text they came from.
struct Window {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint32_t byte_begin = 0;
  std::uint32_t byte_end = 0;

  std::size_t content_tokens() const { return end - begin; }
};

// The stride used when none is given: a quarter of a window's content tokens (128 of 508 for a
// 512-token model, close to the 128 that Hugging Face's question-answering pipeline uses).
std::size_t default_stride(std::size_t max_length, std::size_t special_tokens);

// The windows that cover `full` (an untruncated single-text encoding) in sequences of at most
// `max_length` tokens, special tokens included; consecutive windows overlap by `stride` tokens.
// A text that fits gets one window, the whole text. Throws InvalidArgument when max_length
// leaves no room for content or stride is not smaller than a window's content.
std::vector<Window> plan_windows(const Encoding& full, std::size_t max_length, std::size_t stride);

// The window as an encoding of its own: full's leading special tokens, the window's tokens,
// full's trailing special tokens.
Encoding window_encoding(const Encoding& full, const Window& window);

// The sequences an encoder runs for texts' encodings (untruncated, or already cut when `mode` is
// kTruncate): a text that fits as itself, a longer one as its windows (kWindow) or an
// InvalidArgument naming it by row_name(i) (kError).
struct Sequences {
  std::vector<Encoding> encodings;  // one per sequence
  std::vector<Window> windows;      // one per sequence: the text's tokens it holds
  std::vector<std::size_t> first;   // text i's sequences are [first[i], first[i + 1])
  std::int64_t tokens = 0;          // in all sequences, special tokens included
  std::int64_t truncated = 0;       // texts the tokenizer cut
  std::int64_t windowed = 0;        // texts read in more than one window
};
Sequences split_long_texts(std::vector<Encoding> encodings, std::size_t max_length, LongText mode,
                           std::size_t stride,
                           const std::function<std::string(std::size_t)>& row_name);

// The mean of each text's windows' rows of k values (probabilities): [texts, k] from
// [windows, k], text i's windows being [first[i], first[i + 1]).
std::vector<double> average_windows(std::span<const double> rows, std::size_t k,
                                    std::span<const std::size_t> first);

// Combines `windows` rows of `dim` values (row w is window w's vector) into `out` (dim values).
// `weights[w]`, used by kWeighted, is window w's number of real tokens.
void pool_windows(std::span<const float> windows, std::size_t dim, WindowPooling pooling,
                  std::span<const std::size_t> weights, std::span<float> out);

// Every text's vector from its sequences' rows of `dim` values: text i's sequences are
// [first[i], first[i + 1]) of `rows` and `windows`; a text read as itself keeps its row as is,
// one read in windows gets pool_windows of them, L2-normalized again when `normalize` (its
// windows' rows were normalized each as a text of its own). `out` holds [texts, dim].
void pool_texts(std::span<const float> rows, std::size_t dim, std::span<const std::size_t> first,
                std::span<const Window> windows, WindowPooling pooling, bool normalize,
                std::span<float> out);

}  // namespace bertlite::model
