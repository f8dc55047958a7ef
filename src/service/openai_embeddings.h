// OpenAI's embeddings request and response (POST /v1/embeddings, and each line of an OpenAI
// batch, openai_batch_job_kind.h): decoding a request body for a served model, the response
// body, and OpenAI's error body {"error": {"message", "type", "param", "code"}}. OpenAI's API
// reference is the contract. Choices (docs/openai.md): token-id inputs are decoded with the
// model's tokenizer and embedded as text; inputs longer than the model's context are a 400 (as
// OpenAI does: truncate NONE); `input_type` (not in OpenAI's API) may pick Cohere's input type,
// default search_document. Reentrant (no shared state).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "service/embedding_service.h"
#include "service/model_registry.h"

namespace ej::service {

// An error with the OpenAI request field it is about (`param`) and OpenAI's `code`, so the
// error body can name them.
struct OpenAiError : Error {
  OpenAiError(ErrorCode code, std::string message, std::string param_name, std::string code_name)
      : Error(code, std::move(message)),
        param(std::move(param_name)),
        code_name(std::move(code_name)) {}
  std::string param;
  std::string code_name;
};

// Throws a 400 OpenAiError about `param`.
[[noreturn]] void openai_invalid(const std::string& message, const std::string& param);

// OpenAI's error body for an HTTP status: {"error": {"message", "type", "param", "code"}}, the
// type from the status (invalid_request_error, authentication_error, rate_limit_error,
// server_error); empty param / code are null.
nlohmann::json openai_error_body(int status, const std::string& message, const std::string& param,
                                 const std::string& code);

// What OpenAI's body says for a failure: status, message, param and code; a 5xx names no
// internals (the detail goes to the log). For what an /v1/embeddings request or a batch line
// throws.
struct OpenAiFailure {
  int status = 500;
  std::string message;
  std::string param;
  std::string code;
};
OpenAiFailure openai_failure(const std::exception& e);

// A decoded /v1/embeddings request.
struct OpenAiEmbedCall {
  EmbedRequest request;  // texts, truncate NONE, input_type; the caller sets owner
  bool base64 = false;   // encoding_format "base64" (else "float")
  int dims = 0;          // the dimensions asked for (the model's own when not given)
};

// The body's `model` (400 when it is missing or not a string).
std::string openai_model_name(const nlohmann::json& body);

// Decodes an /v1/embeddings body for `model` (whose name the body's model named); throws
// OpenAiError (400) naming the field at fault.
OpenAiEmbedCall decode_openai_embeddings(const nlohmann::json& body, const ServedModel& model,
                                         EmbeddingService& embeddings);

// The /v1/embeddings response for `call` answered by `result`: {"object": "list", "data":
// [{"object": "embedding", "index", "embedding"}], "model", "usage"}.
nlohmann::json openai_embeddings_response(const OpenAiEmbedCall& call, const EmbedResult& result,
                                          const ServedModel& model);

}  // namespace ej::service
