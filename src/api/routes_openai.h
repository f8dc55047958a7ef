// What the OpenAI routes share (routes_openai.cpp: /v1/embeddings; routes_openai_batch.cpp:
// /v1/files and /v1/batches): answering with OpenAI's error body. Internal to the API layer;
// worker threads.
#pragma once

#include <string>

#include "api/router.h"
#include "service/openai_embeddings.h"

namespace ej::api {

// Replaces res with OpenAI's error body for `status` (and Retry-After for 429 / 503).
void send_openai_error(http::Response& res, int status, const std::string& message,
                       const std::string& param, const std::string& code);

// Runs fn (which may throw) and answers OpenAI-style on failure. A 5xx names no internals.
template <typename Fn>
void openai_guarded(Ctx& ctx, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    service::OpenAiFailure f = service::openai_failure(e);
    send_openai_error(ctx.res, f.status, f.message, f.param, f.code);
  }
}

// The /v1/files and /v1/batches routes (routes_openai_batch.cpp).
void register_openai_batch_routes(Router& r);

}  // namespace ej::api
