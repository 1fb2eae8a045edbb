// server/openapi.cpp - see openapi.h. Kept as one literal so the document is what is served,
// byte for byte; edit it together with http_server.cpp.
#include "server/openapi.h"

#include <nlohmann/json.hpp>

namespace bertlite::server {
namespace {

std::string_view document_text() {
  static constexpr std::string_view kDocument = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "bertlite serve",
    "version": "0.1.0",
    "description": "BERT-family embeddings and classifiers on the CPU: text-embeddings-inference's routes and shapes, and OpenAI's /v1/embeddings."
  },
  "paths": {
    "/embed": {
      "post": {
        "operationId": "embed",
        "summary": "Sentence embeddings (TEI). With --long-text window (GET /info long_text), an input over max_input_length is read in overlapping windows and gets their pooled vector (normalized after pooling).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbedRequest"}}}},
        "responses": {
          "200": {"description": "One vector per input.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbedResponse"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/predict": {
      "post": {
        "operationId": "predict",
        "summary": "Labels and scores from the loaded classifier (TEI). A string or one [a, b] pair gives a flat list (a list holding it when the request has \"parameters\", as the Hugging Face Inference API); any other list gives a list per input.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
        "responses": {
          "200": {"description": "Labels, best first.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/tokenize": {
      "post": {
        "operationId": "tokenize",
        "summary": "Tokens with byte offsets into each input (TEI).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenizeRequest"}}}},
        "responses": {
          "200": {"description": "Tokens per input.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenizeResponse"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/embeddings": {
      "post": {
        "operationId": "openai_embeddings",
        "summary": "OpenAI-compatible embeddings (L2-normalized). Inputs over max_input_length follow the server's auto_truncate, or with --long-text window (GET /info long_text) are read in windows and pooled.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIEmbeddingsRequest"}}}},
        "responses": {
          "200": {"description": "Embeddings and token usage.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIEmbeddingsResponse"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/info": {
      "get": {
        "operationId": "info",
        "summary": "The model and the server's limits (TEI).",
        "responses": {
          "200": {"description": "Model and limits.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Info"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "200 once the model is loaded; 503 while loading or shutting down.",
        "responses": {
          "200": {"description": "Ready."},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics (text format 0.0.4).",
        "responses": {
          "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": {
          "200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    }
  },
  "components": {
    "responses": {
      "Error": {"description": "An error (TEI's shape).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    },
    "schemas": {
      "ErrorResponse": {
        "type": "object",
        "required": ["error", "error_type"],
        "properties": {
          "error": {"type": "string"},
          "error_type": {"type": "string", "enum": ["validation", "tokenizer", "empty", "overloaded", "unhealthy", "unauthorized", "not_found", "backend"]}
        }
      },
      "Input": {
        "oneOf": [
          {"type": "string"},
          {"type": "array", "items": {"type": "string"}}
        ]
      },
      "TruncationDirection": {"type": "string", "enum": ["Right", "right"], "nullable": true, "description": "Left truncation is not supported (422)"},
      "EmbedRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["inputs"],
        "properties": {
          "inputs": {"$ref": "#/components/schemas/Input"},
          "normalize": {"type": "boolean", "nullable": true, "default": true},
          "truncate": {"type": "boolean", "nullable": true, "description": "Inputs over max_input_length: true cuts them, false refuses them (422); unset: the server's auto_truncate. Only under --long-text truncate (GET /info long_text): with error they are always refused, with window read whole in windows and this field is ignored."},
          "truncation_direction": {"$ref": "#/components/schemas/TruncationDirection"},
          "prompt_name": {"type": "string", "nullable": true, "enum": [null], "description": "no prompts are configured: only null"},
          "dimensions": {"type": "integer", "nullable": true, "description": "only the model's width"},
          "encoding_format": {"type": "string", "enum": ["float"], "nullable": true}
        }
      },
      "EmbedResponse": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
      "Sequence": {
        "oneOf": [
          {"type": "string"},
          {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}
        ]
      },
      "PredictRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["inputs"],
        "properties": {
          "inputs": {
            "anyOf": [
              {"$ref": "#/components/schemas/Sequence"},
              {"type": "array", "items": {"$ref": "#/components/schemas/Sequence"}}
            ]
          },
          "raw_scores": {"type": "boolean", "nullable": true, "default": false},
          "truncate": {"type": "boolean", "nullable": true, "description": "Inputs over max_input_length: true cuts them, false refuses them (422); unset: the server's auto_truncate. Only under --long-text truncate (GET /info long_text): with error they are always refused, with window read whole in windows and this field is ignored."},
          "truncation_direction": {"$ref": "#/components/schemas/TruncationDirection"},
          "parameters": {
            "type": "object",
            "nullable": true,
            "additionalProperties": false,
            "properties": {
              "function_to_apply": {"type": "string", "enum": ["softmax", "sigmoid", "none"], "nullable": true},
              "top_k": {"type": "integer", "minimum": 1, "nullable": true}
            }
          }
        }
      },
      "Prediction": {
        "type": "object",
        "required": ["label", "score"],
        "properties": {"label": {"type": "string"}, "score": {"type": "number"}}
      },
      "PredictResponse": {
        "oneOf": [
          {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
          {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}}
        ]
      },
      "TokenizeRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["inputs"],
        "properties": {
          "inputs": {"$ref": "#/components/schemas/Input"},
          "add_special_tokens": {"type": "boolean", "nullable": true, "default": true},
          "prompt_name": {"type": "string", "nullable": true, "enum": [null], "description": "no prompts are configured: only null"}
        }
      },
      "SimpleToken": {
        "type": "object",
        "required": ["id", "text", "special", "start", "stop"],
        "properties": {
          "id": {"type": "integer"},
          "text": {"type": "string"},
          "special": {"type": "boolean"},
          "start": {"type": "integer", "nullable": true, "description": "byte offset into the input"},
          "stop": {"type": "integer", "nullable": true, "description": "byte offset, exclusive"}
        }
      },
      "TokenizeResponse": {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/SimpleToken"}}},
      "OpenAIEmbeddingsRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": ["input"],
        "properties": {
          "input": {"$ref": "#/components/schemas/Input"},
          "model": {"type": "string", "nullable": true},
          "encoding_format": {"type": "string", "enum": ["float", "base64"], "nullable": true},
          "dimensions": {"type": "integer", "nullable": true, "description": "only the model's width"},
          "user": {"type": "string", "nullable": true}
        }
      },
      "OpenAIEmbedding": {
        "type": "object",
        "required": ["object", "embedding", "index"],
        "properties": {
          "object": {"type": "string", "enum": ["embedding"]},
          "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string", "description": "base64 of little-endian float32"}]},
          "index": {"type": "integer"}
        }
      },
      "OpenAIEmbeddingsResponse": {
        "type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {
          "object": {"type": "string", "enum": ["list"]},
          "data": {"type": "array", "items": {"$ref": "#/components/schemas/OpenAIEmbedding"}},
          "model": {"type": "string"},
          "usage": {
            "type": "object",
            "required": ["prompt_tokens", "total_tokens"],
            "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}
          }
        }
      },
      "Info": {
        "type": "object",
        "required": ["model_id", "model_type", "max_concurrent_requests", "max_input_length", "max_batch_tokens", "max_client_batch_size", "auto_truncate", "version"],
        "properties": {
          "model_id": {"type": "string"},
          "model_sha": {"type": "string", "nullable": true},
          "model_dtype": {"type": "string"},
          "model_type": {"type": "object"},
          "max_concurrent_requests": {"type": "integer"},
          "max_input_length": {"type": "integer"},
          "max_batch_tokens": {"type": "integer"},
          "max_batch_requests": {"type": "integer", "nullable": true},
          "max_client_batch_size": {"type": "integer"},
          "auto_truncate": {"type": "boolean"},
          "tokenization_workers": {"type": "integer", "nullable": true},
          "version": {"type": "string"},
          "sha": {"type": "string", "nullable": true},
          "docker_label": {"type": "string", "nullable": true},
          "embedding_pooling": {"type": "string"},
          "hidden_size": {"type": "integer"},
          "classifier": {"type": "string", "nullable": true},
          "long_text": {"type": "string", "enum": ["truncate", "window", "error"], "description": "bertlite's own: --long-text, what happens to inputs over max_input_length"},
          "stride": {"type": "integer", "nullable": true, "description": "window: tokens shared by consecutive windows of /embed"},
          "window_pooling": {"type": "string", "enum": ["mean", "max", "weighted"], "nullable": true, "description": "window: how /embed combines windows (/predict averages scores)"}
        }
      }
    }
  }
}
)json";
  return kDocument;
}

}  // namespace

std::string openapi_document(std::int64_t max_client_batch_size, std::int64_t hidden) {
  nlohmann::json doc = nlohmann::json::parse(document_text());
  nlohmann::json& schemas = doc["components"]["schemas"];
  // Empty lists are answered 400 ("empty") and longer ones 413: the schema says so, so that a
  // generated valid request is one the server serves.
  for (nlohmann::json* list : {&schemas["Input"]["oneOf"][1],
                               &schemas["PredictRequest"]["properties"]["inputs"]["anyOf"][1]}) {
    (*list)["minItems"] = 1;
    (*list)["maxItems"] = max_client_batch_size;
  }
  if (hidden > 0) {
    for (const char* request : {"EmbedRequest", "OpenAIEmbeddingsRequest"}) {
      schemas[request]["properties"]["dimensions"]["enum"] = {hidden, nullptr};
    }
  }
  return doc.dump(2);
}

}  // namespace bertlite::server
