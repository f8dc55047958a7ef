#include "api/idempotency.h"

#include <memory>

#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/idempotency.h"

namespace ej::api {

namespace {

constexpr const char* kHeader = "Idempotency-Key";

bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string query_of(const http::Request& req) {
  size_t q = req.target.find('?');
  return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

// Multipart parts, boundary-independent: per part its name, filename, content type and the
// SHA-256 of its bytes.
std::string multipart_digest(const ContentReader& reader) {
  Sha256 all;
  std::unique_ptr<Sha256> part;
  auto close_part = [&] {
    if (part) all.update(part->hex() + "\n");
    part.reset();
  };
  reader(
      [&](const MultipartPart& p) {
        close_part();
        all.update("part\n" + p.name + "\n" + p.filename + "\n" + p.content_type + "\n");
        part = std::make_unique<Sha256>();
        return true;
      },
      [&](const char* data, size_t len) {
        if (part) part->update(data, len);
        return true;
      });
  close_part();
  return all.hex();
}

// Runs `handler` under the request's Idempotency-Key (see the header).
void run_idempotent(Router& r, Ctx& ctx, const ContentReader* reader,
                    const std::function<void()>& handler) {
  if (!ctx.req.has_header(kHeader)) {
    handler();
    if (ctx.res.status >= 200 && ctx.res.status < 300) failpoint("idempotency.after_commit");
    return;
  }
  const std::string key = ctx.req.get_header_value(kHeader);
  if (!valid_key(key)) {
    throw_invalid(std::string(kHeader) +
                  " must be 1 to 255 visible ASCII characters (letters, digits, -, _, ...)");
  }
  service::Services& services = r.services();
  const std::string hash = idempotency_request_hash(ctx.req, reader);
  service::IdempotencyBegin begin = service::begin_idempotent(services, ctx.owner, key, hash);
  using S = service::IdempotencyBegin::State;
  switch (begin.state) {
    case S::kInFlight:
      Router::send_error(ctx.res, 409,
                         "a request with this Idempotency-Key is still in progress; retry it "
                         "once the first one has answered");
      ctx.res.set_header("Retry-After", "1");
      return;
    case S::kMismatch:
      Router::send_error(ctx.res, 422,
                         "this Idempotency-Key was already used with a different request "
                         "(method, path, query or body differ); use a new key for a new request");
      return;
    case S::kDone:
      ctx.res.status = begin.status;
      ctx.res.set_content(begin.body, "application/json");
      ctx.res.set_header("Idempotent-Replayed", "true");
      return;
    case S::kStarted:
      break;
  }
  auto abandon = [&] {
    try {
      service::abandon_idempotent(services, ctx.owner, key, begin.holder);
    } catch (const std::exception& e) {
      log_error(std::string("idempotency: cannot release a key: ") + e.what());
    }
  };
  try {
    failpoint("idempotency.started");  // tests: a slow first request (409 for the second)
    handler();
  } catch (...) {
    abandon();  // the handler failed before its commit: nothing happened, a retry runs again
    throw;
  }
  if (ctx.res.status < 200 || ctx.res.status >= 300) {
    abandon();
    return;
  }
  service::finish_idempotent(services, ctx.owner, key, begin.holder, ctx.res.status, ctx.res.body);
  // Tests: the create is committed and its answer kept, but the answer is lost on the way.
  failpoint("idempotency.after_commit");
}

}  // namespace

std::string idempotency_request_hash(const http::Request& req, const ContentReader* reader) {
  std::string body_digest;
  if (reader) {
    if (req.is_multipart_form_data()) {
      body_digest = "multipart:" + multipart_digest(*reader);
    } else {
      Sha256 raw;
      (*reader)([&](const char* data, size_t len) {
        raw.update(data, len);
        return true;
      });
      body_digest = "raw:" + raw.hex();
    }
  } else {
    body_digest = "raw:" + sha256_hex(req.body);
  }
  return sha256_hex(req.method + "\n" + req.path + "\n" + query_of(req) + "\n" + body_digest);
}

Router::Handler idempotent(Router& r, Router::Handler handler) {
  return [&r, handler = std::move(handler)](Ctx& ctx) {
    run_idempotent(r, ctx, nullptr, [&] { handler(ctx); });
  };
}

Router::StreamHandler idempotent(Router& r, Router::StreamHandler handler) {
  return [&r, handler = std::move(handler)](Ctx& ctx, const ContentReader& reader) {
    run_idempotent(r, ctx, &reader, [&] { handler(ctx, reader); });
  };
}

}  // namespace ej::api
