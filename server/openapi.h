// server/openapi.h - the OpenAPI 3.0 document GET /openapi.json serves: every route, its
// request and response shapes and its error statuses, exactly as http_server.cpp answers
// them (tests/python/test_serve.py checks responses against it; schemathesis fuzzes the
// server from it, tests/python/test_serve_schemathesis.py).
#pragma once

#include <cstdint>
#include <string>

namespace bertlite::server {

// The document with this server's limits filled in: at most `max_client_batch_size` inputs per
// request, and `dimensions` only as the model's `hidden` (0: not known yet, while loading).
std::string openapi_document(std::int64_t max_client_batch_size, std::int64_t hidden);

}  // namespace bertlite::server
