// server/errors.h - the errors a request can end in, with the HTTP status and TEI error_type
// each one is answered with.
//
// The serving library throws these (or plain bertlite::Error, which the HTTP front treats as
// a validation error of the request); only http_server.cpp turns them into responses.
#pragma once

#include <string>

#include "bertlite/error.h"

namespace bertlite::server {

// text-embeddings-inference's error kinds (its ErrorType), plus the few HTTP-level ones it
// leaves to its framework. The names are the error_type strings clients see.
enum class ErrorKind {
  kValidation,    // 422 (or 413 when a limit was exceeded): the request cannot be served as sent
  kTooLarge,      // 413: body or batch over its limit ("validation", as TEI calls it)
  kTokenizer,     // 422: the text itself is invalid (UTF-8)
  kEmpty,         // 400: an empty list of inputs
  kOverloaded,    // 429: the queue is full; Retry-After says when to come back
  kUnhealthy,     // 503: loading or draining
  kUnauthorized,  // 401: --api-key set and the Bearer token missing or wrong
  kNotFound,      // 404: no such route, or the route's model is not loaded
  kBackend,       // 500: the encoder failed (a bug: inputs are checked before they are queued)
};

int http_status(ErrorKind kind);
const char* error_type(ErrorKind kind);

class RequestError : public Error {
 public:
  RequestError(ErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace bertlite::server
