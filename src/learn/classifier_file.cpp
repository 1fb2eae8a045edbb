// learn/classifier_file.cpp - writing, reading and checking saved classifiers (see the header).
#include "learn/classifier_file.h"

#include <cmath>

#include "bertlite/error.h"
#include "util/file.h"

namespace bertlite::learn {
namespace {

using nlohmann::json;

bool valid_pooling(const std::string& p) {
  return p == "cls" || p == "mean" || p == "pooler";
}

const char* class_weight_name(ClassWeight w) {
  return w == ClassWeight::kBalanced ? "balanced" : "none";
}

// Typed access to a JSON object's fields, naming the file and the dotted field path in errors.
class Reader {
 public:
  Reader(const json& object, std::string source, std::string path)
      : object_(object), source_(std::move(source)), path_(std::move(path)) {}

  const json& get(const char* name, json::value_t type, const char* type_name) const {
    const auto it = object_.find(name);
    if (it == object_.end()) fail(name, "is missing");
    const bool ok = it->type() == type ||
                    (type == json::value_t::number_float && it->is_number()) ||
                    (type == json::value_t::number_integer && it->is_number_integer());
    if (!ok) fail(name, std::string("must be ") + type_name + ", got " + it->type_name());
    return *it;
  }
  std::string string(const char* name) const {
    return get(name, json::value_t::string, "a string").get<std::string>();
  }
  std::int64_t integer(const char* name) const {
    const json& v = get(name, json::value_t::number_integer, "an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX) fail(name, "is too large");
    return v.get<std::int64_t>();
  }
  double number(const char* name) const {
    return get(name, json::value_t::number_float, "a number").get<double>();
  }
  bool boolean(const char* name) const {
    return get(name, json::value_t::boolean, "true or false").get<bool>();
  }
  const json& array(const char* name) const { return get(name, json::value_t::array, "an array"); }
  Reader object(const char* name) const {
    return Reader(get(name, json::value_t::object, "an object"), source_, field(name));
  }
  bool has(const char* name) const { return object_.contains(name); }

  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw ParseError(source_ + ": field \"" + field(name) + "\" " + what);
  }
  std::string field(const std::string& name) const {
    return path_.empty() ? name : path_ + "." + name;
  }

 private:
  const json& object_;
  std::string source_;
  std::string path_;
};

std::vector<double> numbers(const Reader& reader, const char* name, const json& array,
                            std::size_t want) {
  if (array.size() != want) {
    reader.fail(name, "must hold " + std::to_string(want) + " numbers, got " +
                          std::to_string(array.size()));
  }
  std::vector<double> out;
  out.reserve(want);
  for (const json& v : array) {
    if (!v.is_number()) reader.fail(name, std::string("must hold numbers, got ") + v.type_name());
    out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

std::string classifier_to_json(const SavedClassifier& c) {
  const LogisticRegression& m = c.model;
  if (!m.fitted()) throw InvalidArgument("save classifier: the model is not fitted");
  if (!c.label_names.empty() && c.label_names.size() != m.classes().size()) {
    throw InvalidArgument("save classifier: " + std::to_string(c.label_names.size()) +
                          " label names for " + std::to_string(m.classes().size()) + " classes");
  }
  if (!valid_pooling(c.encoder.pooling)) {
    throw InvalidArgument("save classifier: encoder pooling \"" + c.encoder.pooling +
                          "\" is not one of cls, mean, pooler");
  }
  // null (what `{}` makes in an aggregate initializer) is an empty summary.
  if (!c.training.is_object() && !c.training.is_null()) {
    throw InvalidArgument("save classifier: the training summary must be a JSON object");
  }
  json coef = json::array();
  for (std::int64_t k = 0; k < m.coef_rows(); ++k) {
    coef.push_back(std::vector<double>(m.coef().begin() + k * m.n_features(),
                                       m.coef().begin() + (k + 1) * m.n_features()));
  }
  const LogisticRegressionOptions& o = m.options();
  json out = {
      {"format", kClassifierFormat},
      {"version", kClassifierVersion},
      {"estimator", "logistic_regression"},
      {"encoder",
       {{"model", c.encoder.model},
        {"pooling", c.encoder.pooling},
        {"normalize", c.encoder.normalize},
        {"max_length", c.encoder.max_length}}},
      {"classes", m.classes()},
      {"label_names", c.label_names},
      {"n_features", m.n_features()},
      {"coef", coef},
      {"intercept", m.intercept()},
      {"options",
       {{"C", o.C},
        {"max_iter", o.max_iter},
        {"tol", o.tol},
        {"fit_intercept", o.fit_intercept},
        {"class_weight", class_weight_name(o.class_weight)}}},
      {"training", c.training.is_null() ? json::object() : c.training},
  };
  // nlohmann writes each double in the shortest form that parses back to the same value.
  return out.dump(1) + "\n";
}

SavedClassifier classifier_from_json(std::string_view text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw ParseError(source + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw ParseError(source + ": a classifier file is a JSON object");
  const Reader root(doc, source, "");
  const std::string format = root.string("format");
  if (format != kClassifierFormat) {
    root.fail("format", "is \"" + format + "\", expected \"" + kClassifierFormat + "\"");
  }
  const std::int64_t version = root.integer("version");
  if (version > kClassifierVersion) {
    throw Unsupported(source + ": field \"version\" is " + std::to_string(version) +
                      ": written by a newer bertlite (this one reads up to version " +
                      std::to_string(kClassifierVersion) + ")");
  }
  if (version < 1) root.fail("version", "must be >= 1, got " + std::to_string(version));
  const std::string estimator = root.string("estimator");
  if (estimator != "logistic_regression") {
    root.fail("estimator", "is \"" + estimator + "\", expected \"logistic_regression\"");
  }

  SavedClassifier c;
  const Reader encoder = root.object("encoder");
  c.encoder.model = encoder.string("model");
  c.encoder.pooling = encoder.string("pooling");
  if (!valid_pooling(c.encoder.pooling)) {
    encoder.fail("pooling", "is \"" + c.encoder.pooling + "\", expected cls, mean or pooler");
  }
  c.encoder.normalize = encoder.boolean("normalize");
  c.encoder.max_length = encoder.integer("max_length");

  std::vector<std::int64_t> classes;
  for (const json& v : root.array("classes")) {
    if (!v.is_number_integer()) root.fail("classes", "must hold integers");
    classes.push_back(v.get<std::int64_t>());
  }
  for (const json& v : root.array("label_names")) {
    if (!v.is_string()) root.fail("label_names", "must hold strings");
    c.label_names.push_back(v.get<std::string>());
  }
  if (!c.label_names.empty() && c.label_names.size() != classes.size()) {
    root.fail("label_names", "has " + std::to_string(c.label_names.size()) + " names for " +
                                 std::to_string(classes.size()) + " classes");
  }
  const std::int64_t n_features = root.integer("n_features");
  if (n_features < 1) root.fail("n_features", "must be >= 1");
  if (classes.size() < 2) root.fail("classes", "must list at least 2 classes");
  const std::size_t rows = classes.size() == 2 ? 1 : classes.size();
  const json& coef_rows = root.array("coef");
  if (coef_rows.size() != rows) {
    root.fail("coef", "must have " + std::to_string(rows) + " rows for " +
                          std::to_string(classes.size()) + " classes, got " +
                          std::to_string(coef_rows.size()));
  }
  std::vector<double> coef;
  for (const json& row : coef_rows) {
    if (!row.is_array()) root.fail("coef", "must be an array of arrays");
    const std::vector<double> values =
        numbers(root, "coef", row, static_cast<std::size_t>(n_features));
    coef.insert(coef.end(), values.begin(), values.end());
  }
  std::vector<double> intercept = numbers(root, "intercept", root.array("intercept"), rows);

  LogisticRegressionOptions options;
  const Reader o = root.object("options");
  options.C = o.number("C");
  options.max_iter = static_cast<int>(o.integer("max_iter"));
  options.tol = o.number("tol");
  options.fit_intercept = o.boolean("fit_intercept");
  const std::string weight = o.string("class_weight");
  if (weight == "balanced") {
    options.class_weight = ClassWeight::kBalanced;
  } else if (weight != "none") {
    o.fail("class_weight", "is \"" + weight + "\", expected none or balanced");
  }
  c.training = root.get("training", json::value_t::object, "an object");

  try {
    c.model = LogisticRegression::from_parameters(std::move(classes), std::move(coef),
                                                  std::move(intercept), n_features, options);
  } catch (const InvalidArgument& e) {
    throw ParseError(source + ": " + e.what());
  }
  return c;
}

void save_classifier(const std::filesystem::path& path, const SavedClassifier& classifier) {
  util::write_file_atomic(path, classifier_to_json(classifier));
}

SavedClassifier load_classifier(const std::filesystem::path& path) {
  return classifier_from_json(util::read_file(path), path.string());
}

void check_encoder(const SavedClassifier& classifier, const std::string& source,
                   const EncoderSpec& actual) {
  const EncoderSpec& want = classifier.encoder;
  std::string differences;
  auto add = [&](const std::string& field, const std::string& expected, const std::string& got) {
    differences += (differences.empty() ? "" : ", ") + field + " " + expected + ", got " + got;
  };
  auto quoted = [](const std::string& s) { return "\"" + s + "\""; };
  if (want.model != actual.model) add("model", quoted(want.model), quoted(actual.model));
  if (want.pooling != actual.pooling) add("pooling", quoted(want.pooling), quoted(actual.pooling));
  if (want.normalize != actual.normalize) {
    add("normalize", want.normalize ? "true" : "false", actual.normalize ? "true" : "false");
  }
  if (want.max_length != actual.max_length) {
    add("max_length", std::to_string(want.max_length), std::to_string(actual.max_length));
  }
  if (!differences.empty()) {
    throw InvalidArgument(source +
                          ": the classifier was trained on features of another encoder "
                          "setting: expects " +
                          differences);
  }
}

std::vector<std::string> class_names(const SavedClassifier& classifier) {
  if (!classifier.label_names.empty()) return classifier.label_names;
  std::vector<std::string> names;
  for (const std::int64_t c : classifier.model.classes()) names.push_back(std::to_string(c));
  return names;
}

}  // namespace bertlite::learn
