// Idempotent creates: wraps a POST route's handler so that an `Idempotency-Key` header makes a
// retried request return the first response instead of creating a second resource. Usage, one
// call at registration (JSON and streamed routes alike):
//
//   r.post("/v2/batches", idempotent(r, [&r](Ctx& ctx) { ... create ... }));
//   r.post_stream("/v1/datasets", idempotent(r, [&r](Ctx& ctx, const ContentReader& rd) {...}));
//
// Semantics (docs/decisions.md "Idempotency-Key"): no header -> the handler runs as before. With
// a key (1..255 visible ASCII characters, else 400), scoped to the authenticated owner and kept
// 24 hours after first use:
//   - first use: the handler runs; a 2xx answer (status + body) is kept for replays; any other
//     answer (4xx, 5xx, an exception) forgets the key, so a retry runs again. The handler must
//     make its side effect in one commit and throw before it on failure (the create routes do).
//   - same key, same request: the kept answer, with `Idempotent-Replayed: true`.
//   - same key while the first request still runs: 409 (Retry-After: 1).
//   - same key, different request: 422. The request is its method, path, query string and body:
//     a JSON body's bytes; a multipart body's parts (names, filenames, content types and the
//     SHA-256 of each part's bytes), not its raw bytes, so a retry with a new boundary matches.
// Called on HTTP worker threads; stateless.
#pragma once

#include "api/router.h"

namespace ej::api {

Router::Handler idempotent(Router& r, Router::Handler handler);
Router::StreamHandler idempotent(Router& r, Router::StreamHandler handler);

// The request's identity as hashed for 422 (exposed for tests).
std::string idempotency_request_hash(const http::Request& req, const ContentReader* reader);

}  // namespace ej::api
