// python/src/module.cpp - bertlite._core: the Tokenizer, the Encoder and the library's errors
// for the Python package (python/bertlite, which re-exports them).
//
// A thin front end over the same library calls the CLI makes (cli/tokenize_command.cpp,
// cli/embed_command.cpp): io::resolve_model, Tokenizer::from_folder, FeatureExtractor::load and
// extract, Encoder::forward. What it adds is the Python side of each call:
// - the texts are copied into C++ strings while the GIL is held; then the GIL is released for
//   tokenizing and encoding, so two Python threads embedding at once run in parallel;
// - results come back as numpy arrays that take over the library's std::vector (no copy);
// - after each encoder batch the call takes the GIL for a moment to run Python's signal
//   handlers, so Ctrl-C stops a long embed between batches with KeyboardInterrupt;
// - bertlite::Error subclasses become Python exceptions with the library's message.
// Offsets: the library's are byte offsets into UTF-8; Python users index str by code point, as
// Hugging Face's tokenizers report them, so they are converted here.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bertlite/error.h"
#include "bertlite/tokenizer.h"
#include "io/model_config.h"
#include "io/model_path.h"
#include "kernels/linear.h"
#include "learn/classifier_file.h"
#include "learn/matrix.h"
#include "model/encoder.h"
#include "model/features.h"
#include "train/finetune.h"
#include "train/sequence_classifier.h"
#include "util/threads.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace bertlite::python {
namespace {

// A model name the search path does not know and the hub could not provide. Its own type so
// Python can raise FileNotFoundError for it; other IoErrors stay plain bertlite.IoError.
class ModelNotFound : public IoError {
 public:
  using IoError::IoError;
};

// Thrown out of the library's progress callback when a signal handler raised (Ctrl-C); the
// Python exception stays set on this thread and is re-raised once the GIL is back.
struct Interrupted {};

std::filesystem::path resolve(const std::string& name_or_folder) {
  try {
    return io::resolve_model(name_or_folder);
  } catch (const IoError& e) {
    throw ModelNotFound(e.what());
  }
}

// What the API takes as texts: any iterable of str (list, tuple, numpy array, pandas Series).
using Texts = nb::typed<nb::iterable, nb::str>;

// Copies a sequence of str into UTF-8 strings. A lone str is refused: iterating it would embed
// each character, which is never what the caller meant.
std::vector<std::string> texts_from(nb::handle texts) {
  if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr())) {
    throw nb::type_error("texts must be a sequence of str, not a single str: wrap it in a list");
  }
  std::vector<std::string> out;
  const Py_ssize_t n = PyObject_Length(texts.ptr());
  if (n >= 0) {
    out.reserve(static_cast<std::size_t>(n));
  } else {
    PyErr_Clear();
  }
  for (nb::handle item : texts) {
    Py_ssize_t size = 0;
    const char* data =
        PyUnicode_Check(item.ptr()) ? PyUnicode_AsUTF8AndSize(item.ptr(), &size) : nullptr;
    if (data == nullptr) {
      const bool was_str = PyUnicode_Check(item.ptr());
      PyErr_Clear();
      const std::string index = std::to_string(out.size());
      if (was_str) throw nb::value_error(("texts[" + index + "] is not valid Unicode").c_str());
      throw nb::type_error(
          ("texts[" + index + "] is " + std::string(Py_TYPE(item.ptr())->tp_name) + ", not str")
              .c_str());
    }
    out.emplace_back(data, static_cast<std::size_t>(size));
  }
  return out;
}

// A numpy array that owns `data` (moved, not copied): the capsule deletes it with the array.
template <typename T>
nb::ndarray<nb::numpy, T> adopt(std::vector<T>&& data, std::initializer_list<std::size_t> shape) {
  auto* owner = new std::vector<T>(std::move(data));
  nb::capsule deleter(owner, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owner->data(), shape, deleter);
}

// Code-point index of every byte offset of a UTF-8 text: chars[b] = code points before byte b.
std::vector<std::uint32_t> char_index(std::string_view text) {
  std::vector<std::uint32_t> chars(text.size() + 1);
  std::uint32_t count = 0;
  for (std::size_t b = 0; b < text.size(); ++b) {
    chars[b] = count;
    count += (static_cast<unsigned char>(text[b]) & 0xC0) != 0x80;
  }
  chars[text.size()] = count;
  return chars;
}

// One text's encoding as Python sees it: offsets in code points of the original str(s).
struct PyEncoding {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
  std::vector<std::int32_t> attention_mask;
  std::vector<std::int32_t> special_tokens_mask;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets;
  std::size_t truncated = 0;
};

// encode_batch's result: Encodings, or the padded arrays for return_tensors="np".
using BatchResult = nb::typed<nb::object, std::variant<std::vector<PyEncoding>, nb::dict>>;

// Offsets of a pair's second text are into that text (as the library and Hugging Face give
// them); a token's type id says which text it belongs to.
PyEncoding to_python(Encoding&& e, std::string_view text_a, std::string_view text_b = {}) {
  const std::vector<std::uint32_t> a = char_index(text_a);
  const std::vector<std::uint32_t> b = text_b.empty() ? a : char_index(text_b);
  PyEncoding out;
  out.offsets.reserve(e.size());
  for (std::size_t i = 0; i < e.size(); ++i) {
    const std::vector<std::uint32_t>& chars = e.type_ids[i] == 1 && !text_b.empty() ? b : a;
    const Offset o = e.offsets[i];
    out.offsets.emplace_back(chars[std::min<std::size_t>(o.begin, chars.size() - 1)],
                             chars[std::min<std::size_t>(o.end, chars.size() - 1)]);
  }
  out.ids = std::move(e.ids);
  out.type_ids = std::move(e.type_ids);
  out.attention_mask = std::move(e.attention_mask);
  out.special_tokens_mask = std::move(e.special_tokens_mask);
  out.truncated = e.truncated;
  return out;
}

EncodeOptions encode_options(bool add_special_tokens, std::optional<std::size_t> max_length) {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  options.max_length = max_length.value_or(0);
  return options;
}

// The padded [B, L] matrices transformers takes (int64, as Hugging Face's return_tensors="np").
nb::dict to_arrays(const std::vector<Encoding>& encodings) {
  std::size_t longest = 0;
  for (const Encoding& e : encodings) longest = std::max(longest, e.size());
  const std::size_t B = encodings.size();
  std::vector<std::int64_t> ids(B * longest), types(B * longest), mask(B * longest);
  for (std::size_t r = 0; r < B; ++r) {
    const Encoding& e = encodings[r];
    for (std::size_t c = 0; c < longest; ++c) {
      ids[r * longest + c] = e.ids[c];
      types[r * longest + c] = e.type_ids[c];
      mask[r * longest + c] = e.attention_mask[c];
    }
  }
  nb::dict out;
  out["input_ids"] = adopt(std::move(ids), {B, longest});
  out["token_type_ids"] = adopt(std::move(types), {B, longest});
  out["attention_mask"] = adopt(std::move(mask), {B, longest});
  return out;
}

// An encoder with its tokenizer, as loaded for one model; other precisions are loaded on first
// use and kept, so embed(precision=...) can switch without reloading every call.
class PyEncoder {
 public:
  static std::shared_ptr<PyEncoder> from_pretrained(const std::string& name_or_folder,
                                                    std::optional<std::string> precision) {
    auto encoder = std::shared_ptr<PyEncoder>(new PyEncoder());
    encoder->name_ = name_or_folder;
    std::optional<kernels::Precision> p;
    if (precision) p = kernels::parse_precision(*precision);
    nb::gil_scoped_release unlocked;
    encoder->folder_ = resolve(name_or_folder);
    encoder->main_ = std::make_shared<const model::FeatureExtractor>(
        model::FeatureExtractor::load(encoder->folder_, p));
    return encoder;
  }

  const model::FeatureExtractor& main() const { return *main_; }
  const std::string& name() const { return name_; }
  const std::filesystem::path& folder() const { return folder_; }

  // The extractor for `precision` (unset: the one loaded first). Called without the GIL.
  std::shared_ptr<const model::FeatureExtractor> extractor(
      const std::optional<std::string>& precision) const {
    if (!precision) return main_;
    const kernels::Precision p = kernels::parse_precision(*precision);
    if (p == main_->encoder().precision()) return main_;
    std::lock_guard lock(mutex_);
    auto& slot = others_[p];
    if (!slot) {
      slot = std::make_shared<const model::FeatureExtractor>(
          model::FeatureExtractor::load(folder_, p));
    }
    return slot;
  }

  nb::ndarray<nb::numpy, float> embed(Texts texts_obj, std::optional<std::string> pooling,
                                      std::optional<bool> normalize,
                                      std::optional<std::size_t> max_length,
                                      const std::string& long_text,
                                      std::optional<std::size_t> stride,
                                      const std::string& window_pooling, std::int64_t batch_tokens,
                                      std::optional<std::string> precision) const {
    const std::vector<std::string> texts = texts_from(texts_obj);
    model::FeatureOptions options;
    if (pooling) options.pooling = io::parse_pooling(*pooling);
    options.normalize = normalize;
    options.max_length = max_length.value_or(0);
    options.long_text = model::parse_long_text(long_text);
    options.stride = stride;
    options.window_pooling = model::parse_window_pooling(window_pooling);
    options.batch_tokens = batch_tokens;
    options.threads = util::compute_threads();
    model::Features features;
    try {
      nb::gil_scoped_release unlocked;
      const auto extractor = this->extractor(precision);
      features = extractor->extract(texts, options, [](std::int64_t) {
        nb::gil_scoped_acquire locked;
        if (PyErr_CheckSignals() != 0) throw Interrupted{};
      });
    } catch (const Interrupted&) {
      throw nb::python_error();
    }
    const auto rows = static_cast<std::size_t>(features.rows);
    const auto cols = static_cast<std::size_t>(features.cols);
    return adopt(std::move(features.data), {rows, cols});
  }

  // transformers' last_hidden_state for one batch: [B, L, H], L the longest input; rows past a
  // sequence's end are 0 (bertlite never computes padding).
  nb::ndarray<nb::numpy, float> last_hidden_state(Texts texts_obj,
                                                  std::optional<std::size_t> max_length) const {
    const std::vector<std::string> texts = texts_from(texts_obj);
    const model::Encoder& encoder = main_->encoder();
    const auto positions = static_cast<std::size_t>(encoder.config().max_positions);
    const std::size_t limit = max_length.value_or(positions);
    if (limit > positions) {
      throw InvalidArgument("max length " + std::to_string(limit) + " is more than the model's " +
                            std::to_string(positions) + " positions");
    }
    const auto H = static_cast<std::size_t>(encoder.config().hidden);
    std::size_t longest = 0;
    std::vector<float> padded;
    {
      nb::gil_scoped_release unlocked;
      EncodeOptions encode;
      encode.max_length = limit;
      const std::vector<Encoding> encodings =
          main_->tokenizer().encode_batch(texts, encode, util::compute_threads());
      model::PackedBatch batch;
      for (const Encoding& e : encodings) {
        batch.add(e.ids, e.type_ids);
        longest = std::max(longest, e.size());
      }
      std::vector<float> hidden;
      if (batch.sequences() > 0) encoder.forward(batch, hidden);
      padded.assign(texts.size() * longest * H, 0.0f);
      for (std::size_t b = 0; b < texts.size(); ++b) {
        const auto start = static_cast<std::size_t>(batch.starts[b]);
        const auto end = static_cast<std::size_t>(batch.starts[b + 1]);
        std::copy(hidden.begin() + static_cast<std::ptrdiff_t>(start * H),
                  hidden.begin() + static_cast<std::ptrdiff_t>(end * H),
                  padded.begin() + static_cast<std::ptrdiff_t>(b * longest * H));
      }
    }
    return adopt(std::move(padded), {texts.size(), longest, H});
  }

 private:
  PyEncoder() = default;

  std::string name_;
  std::filesystem::path folder_;
  std::shared_ptr<const model::FeatureExtractor> main_;
  mutable std::mutex mutex_;
  mutable std::map<kernels::Precision, std::shared_ptr<const model::FeatureExtractor>> others_;
};

// Feature rows from Python: float32 [rows, cols], C order; read in place, never copied.
using FeatureRows = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

learn::MatrixView view_of(const FeatureRows& x) {
  return {std::span<const float>(x.data(), x.size()), static_cast<std::int64_t>(x.shape(0)),
          static_cast<std::int64_t>(x.shape(1))};
}

// A classifier file `bertlite train` saved: the logistic regression and the encoder settings
// its features must be made with.
struct PyClassifier {
  learn::SavedClassifier saved;

  static PyClassifier load(const std::string& path) {
    nb::gil_scoped_release unlocked;
    return PyClassifier{learn::load_classifier(path)};
  }

  nb::ndarray<nb::numpy, double> predict_proba(const FeatureRows& x) const {
    std::vector<double> p;
    {
      nb::gil_scoped_release unlocked;
      p = saved.model.predict_proba(view_of(x));
    }
    const std::size_t classes = saved.model.classes().size();
    return adopt(std::move(p), {x.shape(0), classes});
  }

  std::vector<std::int64_t> predict(const FeatureRows& x) const {
    nb::gil_scoped_release unlocked;
    return saved.model.predict(view_of(x));
  }
};

// Fine-tunes the whole encoder with a classification head and writes a Hugging Face folder, as
// `bertlite finetune` does; returns the run's figures. Signals are checked after every
// optimizer step, so Ctrl-C stops it (nothing is written then).
nb::dict finetune(const std::string& name_or_folder, Texts texts_obj,
                  const std::vector<std::int32_t>& labels, const std::string& out,
                  std::optional<std::vector<std::string>> label_names,
                  std::optional<Texts> eval_texts_obj,
                  std::optional<std::vector<std::int32_t>> eval_labels, std::int64_t epochs,
                  float lr, std::size_t max_length, std::int64_t batch_tokens, std::uint64_t seed) {
  const std::vector<std::string> texts = texts_from(texts_obj);
  std::vector<std::string> eval_texts;
  if (eval_texts_obj) eval_texts = texts_from(*eval_texts_obj);
  if (eval_texts.size() != (eval_labels ? eval_labels->size() : 0)) {
    throw InvalidArgument("eval_texts and eval_labels must be given together, one label per text");
  }
  if (labels.size() != texts.size()) {
    throw InvalidArgument(std::to_string(texts.size()) + " texts but " +
                          std::to_string(labels.size()) + " labels");
  }
  train::ClassifierOptions classifier_options;
  if (label_names) {
    classifier_options.labels = *label_names;
  } else {
    // Class codes 0 .. K-1 named by their numbers.
    const std::int32_t top = labels.empty() ? 1 : *std::max_element(labels.begin(), labels.end());
    for (std::int32_t k = 0; k <= top; ++k) classifier_options.labels.push_back(std::to_string(k));
  }
  train::FinetuneOptions options;
  options.epochs = epochs;
  options.lr = lr;
  options.batching.batch_tokens = batch_tokens;
  options.seed = seed;
  classifier_options.init_seed = seed;
  train::FinetuneResult result;
  try {
    nb::gil_scoped_release unlocked;
    const std::filesystem::path folder = resolve(name_or_folder);
    train::SequenceClassifier model = train::SequenceClassifier::load(folder, classifier_options);
    const Tokenizer tokenizer = Tokenizer::from_folder(folder);
    const std::size_t limit =
        std::min<std::size_t>(max_length, static_cast<std::size_t>(model.config().max_positions));
    const int threads = util::compute_threads();
    const train::EncodedExamples train_set =
        train::encode_examples(tokenizer, texts, {}, labels, limit, threads);
    train::EncodedExamples eval_set;
    if (!eval_texts.empty()) {
      eval_set = train::encode_examples(tokenizer, eval_texts, {}, *eval_labels, limit, threads);
    }
    train::FinetuneHooks hooks;
    hooks.step_done = [](std::int64_t, double) {
      nb::gil_scoped_acquire locked;
      if (PyErr_CheckSignals() != 0) throw Interrupted{};
    };
    result = train::finetune(model, train_set.examples, eval_set.examples, options, hooks);
    model.save(out);
  } catch (const Interrupted&) {
    throw nb::python_error();
  }
  nb::list per_epoch;
  for (const train::EpochMetrics& e : result.epochs) {
    nb::dict d;
    d["epoch"] = e.epoch;
    d["train_loss"] = e.train_loss;
    d["eval_loss"] = e.eval_loss;
    d["eval_accuracy"] = e.eval_accuracy;
    d["seconds"] = e.seconds;
    per_epoch.append(d);
  }
  nb::dict summary;
  summary["epochs"] = per_epoch;
  summary["best_epoch"] = result.best_epoch;
  summary["steps"] = result.steps;
  summary["step_losses"] = result.step_losses;
  summary["train_seconds"] = result.train_seconds;
  summary["tokens_per_second"] = result.tokens_per_second;
  summary["folder"] = out;
  return summary;
}

// Python exception types with two bases (bertlite.Error and the built-in one callers already
// catch), which nb::exception<> cannot make.
PyObject* add_exception(nb::module_& m, const char* name, std::initializer_list<PyObject*> bases,
                        const char* doc) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(bases.size()));
  Py_ssize_t i = 0;
  for (PyObject* base : bases) {
    Py_INCREF(base);
    PyTuple_SET_ITEM(tuple, i++, base);
  }
  const std::string qualified = std::string("bertlite.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, tuple, nullptr);
  Py_DECREF(tuple);
  if (type == nullptr) throw nb::python_error();
  m.attr(name) = nb::handle(type);  // the module keeps a reference; `type` keeps ours for good
  return type;
}

}  // namespace
}  // namespace bertlite::python

NB_MODULE(_core, m) {
  using namespace bertlite;
  using namespace bertlite::python;
  m.doc() = "bertlite's C++ core: tokenizer, encoder and errors (use the bertlite package).";

  static PyObject* error = add_exception(m, "Error", {PyExc_Exception},
                                         "Base of every error bertlite raises on purpose.");
  static PyObject* invalid =
      add_exception(m, "InvalidArgument", {error, PyExc_ValueError},
                    "An argument that cannot be honoured: a bad option value, an unknown name.");
  static PyObject* parse =
      add_exception(m, "ParseError", {error, PyExc_ValueError},
                    "Malformed input: invalid UTF-8, a bad JSON field, a truncated file.");
  static PyObject* unsupported = add_exception(
      m, "Unsupported", {error, PyExc_ValueError},
      "A file asks for something bertlite does not implement (an unknown normalizer, say).");
  static PyObject* io_error = add_exception(
      m, "IoError", {error, PyExc_OSError},
      "The operating system refused: a file is missing, unreadable, or could not be written.");
  static PyObject* not_found = add_exception(
      m, "ModelNotFoundError", {io_error, PyExc_FileNotFoundError},
      "No model folder of that name on the search path, and the hub could not provide it.");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ModelNotFound& e) {
      PyErr_SetString(not_found, e.what());
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid, e.what());
    } catch (const ParseError& e) {
      PyErr_SetString(parse, e.what());
    } catch (const Unsupported& e) {
      PyErr_SetString(unsupported, e.what());
    } catch (const IoError& e) {
      PyErr_SetString(io_error, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error, e.what());
    }
  });

  m.def("set_threads", &util::set_compute_threads, "threads"_a,
        "Sets the threads every later tokenize and embed call uses, process-wide (0 = all cores "
        "the affinity mask and CPU quota allow; more is capped to that). Returns the count set.");
  m.def("threads", &util::compute_threads, "The thread count tokenize and embed calls use.");
  m.def(
      "resolve_model", [](const std::string& name) { return resolve(name).string(); }, "name"_a,
      "The folder a model name or path resolves to: an existing folder, then NAME in each "
      "folder of $BERTLITE_MODELS, then the project's models/, then the Hugging Face cache "
      "(downloading). Raises ModelNotFoundError.");
  m.attr("default_model") = io::kDefaultModel;

  nb::class_<PyEncoding>(m, "Encoding",
                         "One text's (or pair's) tokens: parallel lists, one entry per token.")
      .def_ro("ids", &PyEncoding::ids, "Token ids, [CLS] and [SEP] included.")
      .def_ro("type_ids", &PyEncoding::type_ids, "0 for the first text, 1 for the second.")
      .def_ro("attention_mask", &PyEncoding::attention_mask, "1 for tokens, 0 for padding.")
      .def_ro("special_tokens_mask", &PyEncoding::special_tokens_mask,
              "1 for tokens the template or padding added.")
      .def_ro("offsets", &PyEncoding::offsets,
              "(start, end) character offsets into the text each token came from ((0, 0) for "
              "added tokens), as Hugging Face's tokenizers report them.")
      .def_ro("truncated", &PyEncoding::truncated, "Tokens truncation removed (0: none).")
      .def("__len__", [](const PyEncoding& e) { return e.ids.size(); })
      .def("__repr__", [](const PyEncoding& e) {
        return "<bertlite.Encoding of " + std::to_string(e.ids.size()) + " tokens>";
      });

  nb::class_<Tokenizer>(m, "Tokenizer",
                        "BERT WordPiece tokenization, identical to Hugging Face's fast "
                        "BertTokenizer. Immutable; safe to share between threads.")
      .def_static(
          "from_pretrained",
          [](const std::string& name_or_folder) {
            const auto folder = resolve(name_or_folder);
            nb::gil_scoped_release unlocked;
            return Tokenizer::from_folder(folder);
          },
          "name_or_folder"_a,
          "Loads a model folder's tokenizer.json (or vocab.txt + tokenizer_config.json); a name "
          "is looked up as resolve_model() does.")
      .def_static(
          "from_file",
          [](const std::string& path) {
            nb::gil_scoped_release unlocked;
            return Tokenizer::from_tokenizer_json(path);
          },
          "path"_a, "Loads a tokenizer.json file.")
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, std::optional<std::string> pair,
             bool add_special_tokens, std::optional<std::size_t> max_length) {
            const EncodeOptions options = encode_options(add_special_tokens, max_length);
            Encoding e;
            {
              nb::gil_scoped_release unlocked;
              e = pair ? t.encode(text, *pair, options) : t.encode(text, options);
            }
            return to_python(std::move(e), text, pair.value_or(""));
          },
          "text"_a, "pair"_a = nb::none(), nb::kw_only(), "add_special_tokens"_a = true,
          "max_length"_a = nb::none(),
          "Tokens of one text ([CLS] text [SEP]) or a pair ([CLS] text [SEP] pair [SEP]). "
          "max_length truncates (special tokens included; pairs longest-first).")
      .def(
          "encode_batch",
          [](const Tokenizer& t, Texts texts_obj, bool add_special_tokens,
             std::optional<std::size_t> max_length,
             std::optional<std::string> return_tensors) -> BatchResult {
            const std::vector<std::string> texts = texts_from(texts_obj);
            EncodeOptions options = encode_options(add_special_tokens, max_length);
            if (return_tensors) {
              if (*return_tensors != "np") {
                throw InvalidArgument("return_tensors must be \"np\" or None, got \"" +
                                      *return_tensors + "\"");
              }
              options.padding = Padding::kLongest;
            }
            std::vector<Encoding> encodings;
            {
              nb::gil_scoped_release unlocked;
              encodings = t.encode_batch(texts, options, util::compute_threads());
            }
            if (return_tensors) return nb::borrow<BatchResult>(to_arrays(encodings));
            std::vector<PyEncoding> out;
            out.reserve(encodings.size());
            for (std::size_t i = 0; i < encodings.size(); ++i) {
              out.push_back(to_python(std::move(encodings[i]), texts[i]));
            }
            return nb::borrow<BatchResult>(nb::cast(std::move(out)));
          },
          "texts"_a, nb::kw_only(), "add_special_tokens"_a = true, "max_length"_a = nb::none(),
          "return_tensors"_a = nb::none(),
          "Many texts on all threads (see set_threads). A list of Encoding, or with "
          "return_tensors=\"np\" a dict of int64 [texts, longest] arrays input_ids, "
          "token_type_ids, attention_mask padded with the pad id, as transformers takes them.")
      .def(
          "decode",
          [](const Tokenizer& t, const std::vector<std::int32_t>& ids, bool skip_special_tokens) {
            return t.decode(ids, skip_special_tokens);
          },
          "ids"_a, "skip_special_tokens"_a = true,
          "Text from ids, as Hugging Face's WordPiece decoder joins them.")
      .def(
          "tokens",
          [](const Tokenizer& t, const std::vector<std::int32_t>& ids) { return t.tokens(ids); },
          "ids"_a, "The token strings of ids.")
      .def(
          "token_to_id",
          [](const Tokenizer& t, std::string_view token) -> std::optional<std::int32_t> {
            const std::int32_t id = t.token_id(token);
            if (id < 0) return std::nullopt;
            return id;
          },
          "token"_a, "The id of a token, or None.")
      .def_prop_ro("vocab_size", [](const Tokenizer& t) { return t.info().vocab_size; })
      .def_prop_ro("pad_id", &Tokenizer::pad_id)
      .def_prop_ro("unk_id", &Tokenizer::unk_id)
      .def_prop_ro("lowercase", [](const Tokenizer& t) { return t.info().lowercase; })
      .def_prop_ro("model_max_length", [](const Tokenizer& t) { return t.info().model_max_length; })
      .def("__repr__",
           [](const Tokenizer& t) { return "<bertlite.Tokenizer " + t.info().source + ">"; });

  m.def("finetune", &finetune, "model"_a, "texts"_a, "labels"_a, "out"_a, nb::kw_only(),
        "label_names"_a = nb::none(), "eval_texts"_a = nb::none(), "eval_labels"_a = nb::none(),
        "epochs"_a = 3, "lr"_a = 1e-4f, "max_length"_a = 128, "batch_tokens"_a = 2048,
        "seed"_a = 42,
        "Fine-tunes the whole model with a classification head on texts and their class codes "
        "(0 .. K-1), as `bertlite finetune`: AdamW with warmup and linear decay, token-budgeted "
        "packed batches, evaluation on eval_texts after each epoch (the best epoch kept). Writes "
        "a Hugging Face folder to `out` (which must not exist) that transformers and `bertlite "
        "predict --model` load. Returns the run's figures. Releases the GIL; Ctrl-C stops it.");

  nb::class_<PyClassifier>(m, "Classifier",
                           "A classifier file saved by `bertlite train`: logistic regression on "
                           "encoder features. Immutable; predictions may run on several threads.")
      .def_static("load", &PyClassifier::load, "path"_a,
                  "Reads the file; a missing or mistyped field is a ParseError naming it.")
      .def("predict_proba", &PyClassifier::predict_proba, "features"_a,
           "Probabilities, float64 [rows, classes], of float32 [rows, n_features] features "
           "made with embed_options (C order; read in place).")
      .def("predict", &PyClassifier::predict, "features"_a,
           "The most probable class per row (values of `classes`).")
      .def_prop_ro("classes", [](const PyClassifier& c) { return c.saved.model.classes(); })
      .def_prop_ro(
          "labels", [](const PyClassifier& c) { return learn::class_names(c.saved); },
          "A name per class, in class order.")
      .def_prop_ro("n_features", [](const PyClassifier& c) { return c.saved.model.n_features(); })
      .def_prop_ro(
          "embed_options",
          [](const PyClassifier& c) {
            nb::dict options;
            options["pooling"] = c.saved.encoder.pooling;
            options["normalize"] = c.saved.encoder.normalize;
            options["max_length"] = c.saved.encoder.max_length;
            return options;
          },
          "The Encoder.embed arguments the classifier's features were made with.")
      .def_prop_ro(
          "model", [](const PyClassifier& c) { return c.saved.encoder.model; },
          "The model (name or folder) the classifier's features came from.");

  nb::class_<PyEncoder>(
      m, "Encoder",
      "A BERT or DistilBERT encoder with its tokenizer, loaded from a Hugging Face folder. "
      "Immutable once loaded; embed may be called from several threads at once.")
      .def_static("from_pretrained", &PyEncoder::from_pretrained, "name_or_folder"_a,
                  "precision"_a = nb::none(),
                  "Loads config.json, the weights (safetensors or pytorch_model.bin) and the "
                  "tokenizer. precision: \"fp32\", \"bf16\" or \"int8\" GEMMs (default: the "
                  "folder's own, fp32 unless `bertlite quantize` wrote it).")
      .def("embed", &PyEncoder::embed, "texts"_a, nb::kw_only(), "pooling"_a = nb::none(),
           "normalize"_a = nb::none(), "max_length"_a = nb::none(), "long_text"_a = "truncate",
           "stride"_a = nb::none(), "window_pooling"_a = "mean", "batch_tokens"_a = 4096,
           "precision"_a = nb::none(),
           "One feature vector per text, as `bertlite embed` writes them: a float32 [texts, "
           "hidden] array in input order. pooling: \"cls\", \"mean\" or \"pooler\" (default: "
           "the model folder's, else cls); normalize: L2 (default: the folder's); max_length: "
           "longest input in tokens (default: the model's positions); long_text: what a longer "
           "input gets, \"truncate\" (its first max_length tokens), \"error\" (a "
           "ValueError) or \"window\" (overlapping windows sharing `stride` tokens, their "
           "features combined by window_pooling: \"mean\", \"max\" or \"weighted\"); "
           "batch_tokens: real tokens per forward pass; precision: "
           "another GEMM precision (loaded once, then kept). The GIL is released while it runs.")
      .def("last_hidden_state", &PyEncoder::last_hidden_state, "texts"_a, nb::kw_only(),
           "max_length"_a = nb::none(),
           "transformers' last_hidden_state for one batch: float32 [texts, longest, hidden]; "
           "positions past a text's end are 0.")
      .def_prop_ro("tokenizer", [](const PyEncoder& e) { return e.main().tokenizer(); })
      .def_prop_ro("name", &PyEncoder::name, "The name or folder it was loaded by.")
      .def_prop_ro("folder", [](const PyEncoder& e) { return e.folder().string(); })
      .def_prop_ro("hidden_size",
                   [](const PyEncoder& e) { return e.main().encoder().config().hidden; })
      .def_prop_ro("max_length",
                   [](const PyEncoder& e) { return e.main().encoder().config().max_positions; })
      .def_prop_ro("layers", [](const PyEncoder& e) { return e.main().encoder().config().layers; })
      .def_prop_ro(
          "architecture",
          [](const PyEncoder& e) {
            return std::string(io::architecture_name(e.main().encoder().config().architecture));
          })
      .def_prop_ro(
          "pooling",
          [](const PyEncoder& e) {
            return std::string(io::pooling_name(e.main().encoder().config().pooling));
          },
          "The folder's default pooling.")
      .def_prop_ro(
          "normalize", [](const PyEncoder& e) { return e.main().encoder().config().normalize; },
          "Whether the folder's features are L2-normalized by default.")
      .def_prop_ro("precision",
                   [](const PyEncoder& e) {
                     return std::string(kernels::precision_name(e.main().encoder().precision()));
                   })
      .def_prop_ro("parameter_count",
                   [](const PyEncoder& e) { return e.main().encoder().parameter_count(); })
      .def("__repr__", [](const PyEncoder& e) {
        return "<bertlite.Encoder " + e.name() + " (" + e.folder().string() + ")>";
      });
}
