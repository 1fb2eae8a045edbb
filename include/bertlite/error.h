// bertlite/error.h - the exceptions the library throws.
//
// The library never exits or aborts on bad input: it throws one of these, with a message that
// names the file, line, field or byte offset and says what was expected and what was found.
// Only front ends (the CLI, bindings) turn them into exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace bertlite {

// Base of every error bertlite throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed an argument that cannot be honoured (bad option value, unknown name).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Input data is malformed: invalid UTF-8, a bad JSON field, a truncated file.
class ParseError : public Error {
 public:
  using Error::Error;
};

// The operating system refused: a file is missing, unreadable, or could not be written.
class IoError : public Error {
 public:
  using Error::Error;
};

// A file asks for something bertlite does not implement (an unknown normalizer, say).
class Unsupported : public Error {
 public:
  using Error::Error;
};

}  // namespace bertlite
