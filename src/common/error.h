// Error: the one exception type that crosses layers. Thrown when a request cannot go on;
// src/api/http_server.cpp is the only place it becomes an HTTP status + {"message": ...}.
#pragma once

#include <stdexcept>
#include <string>

namespace ej {

enum class ErrorCode {
  kInvalidArgument,    // 400
  kUnauthenticated,    // 401
  kPermissionDenied,   // 403
  kNotFound,           // 404
  kPayloadTooLarge,    // 413
  kUnprocessable,      // 422
  kResourceExhausted,  // 429 (with Retry-After)
  kClientClosed,       // 499
  kInternal,           // 500
  kNotImplemented,     // 501
  kUnavailable,        // 503 (with Retry-After)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

int http_status(ErrorCode code);

// What a client may be told about `e`: the message of an ej::Error that describes the request or
// the resource (any code but kInternal); otherwise "internal error while <doing> (id <id>)",
// with the full text (which may name files, SQL or library internals) written to the log under
// that id. Used wherever an exception's text would reach a response, a failure_reason or a
// validation_error.
std::string public_message(const std::exception& e, const std::string& doing);

[[noreturn]] inline void throw_invalid(std::string message) {
  throw Error(ErrorCode::kInvalidArgument, std::move(message));
}
[[noreturn]] inline void throw_not_found(std::string message) {
  throw Error(ErrorCode::kNotFound, std::move(message));
}

}  // namespace ej
