// Which parser an upload gets. detect_input_format (declared in service/dataset_ingest.h, defined
// in format_detect.cpp) picks it from the file name or the content; resolve_input_format adds the
// checks ingest makes on the head of the file whatever the format (empty file, the cohere-ai SDK's
// "[object Object]" body, a JSON array where JSON Lines are expected).
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "service/dataset_ingest.h"

namespace ej::service::ingest {

// The format to parse the file with (never kAuto): options.format when set, else detected from
// options.filename and `head` (the first bytes of the file). Throws kInvalidArgument.
InputFormat resolve_input_format(const IngestOptions& options, std::string_view head);

}  // namespace ej::service::ingest
