// Embed request bodies (cohere-api.md section 4): the decoding and checking of a /v1/embed or
// /v2/embed JSON body into an EmbedCall, and the v2 response built from the embedded vectors.
// ONE implementation, called by the sync routes (api/routes_embed.cpp), by batch input
// validation at upload (service/ingest/batch_input.cpp, without a model) and by the batch runner
// (service/batch_job_kind.cpp, with the batch's model), so that a batch record is checked and
// answered exactly as /v2/embed checks and answers the same body. Stateless; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/embedding_service.h"
#include "service/embedding_types.h"
#include "service/model_registry.h"

namespace ej::service {

// A decoded embed body: what to embed and how to answer.
struct EmbedCall {
  EmbedRequest request;      // texts, input_type, truncate, max_tokens, priority
  EmbeddingTypes types;      // absent -> float
  bool by_type = true;       // v1: embedding_types was given (else the embeddings_floats shape)
  int output_dimension = 0;  // v2: 0 = the model's dims
  std::vector<std::string> warnings;  // deprecated parameters used (X-API-Warning, meta.warnings)
  // Decoded without a model: the body asks for images (decoded with a model, that is the
  // model's "takes no images" 400).
  bool has_images = false;
};

// The served model a sync body names ("model", required). Throws 400 when absent, 404 when not
// served.
const ServedModel& embed_model(const nlohmann::json& body, const ModelRegistry& models);

// Decodes and checks a /v2/embed body. `model`: the model that will embed it, so that every
// check /v2/embed makes runs here, in its order; nullptr to check what needs no model (a batch
// record at upload; the batch runner decodes it again with the batch's model, which then checks
// images and output_dimension). The body's "model" field is not read. Throws 400 naming what is
// wrong.
EmbedCall decode_v2_embed(const nlohmann::json& body, const ServedModel* model);
// Decodes and checks a /v1/embed body for `model`.
EmbedCall decode_v1_embed(const nlohmann::json& body, const ServedModel& model);
// {"api_version": {"version": v}, "billed_units": {"input_tokens"}, "tokens": {"input_tokens"},
//  "cached_tokens" (of tokens, from the embedding cache), "warnings"?} for an embed answer.
nlohmann::json embed_meta(const char* version, int64_t tokens, int64_t cached_tokens,
                          const std::vector<std::string>& warnings);

// The /v2/embed response for `call` given its vectors (call.request.texts.size() * the model's
// dims floats): {"id", "response_type": "embeddings_by_type", "embeddings": {requested types},
// "texts", "meta"}. Applies output_dimension.
nlohmann::json v2_embed_response(const EmbedCall& call, const EmbedResult& result,
                                 const ServedModel& model, const std::string& id);
// The /v1/embed response (embeddings_floats or embeddings_by_type).
nlohmann::json v1_embed_response(const EmbedCall& call, const EmbedResult& result,
                                 const ServedModel& model, const std::string& id);

}  // namespace ej::service
