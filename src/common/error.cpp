#include "common/error.h"

#include "common/ids.h"
#include "common/log.h"

namespace ej {

std::string public_message(const std::exception& e, const std::string& doing) {
  const auto* err = dynamic_cast<const Error*>(&e);
  if (err && err->code() != ErrorCode::kInternal) return e.what();
  std::string id = random_alnum(12);
  log_error("internal error " + id + " while " + doing + ": " + e.what());
  return "internal error while " + doing + " (id " + id + "); the server log has the details";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kClientClosed:
      return 499;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kNotImplemented:
      return 501;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

}  // namespace ej
