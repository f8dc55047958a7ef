// `datasets upload --text-field NAME`: rewrites a CSV or JSONL file so that its column NAME is
// called `text` (Cohere requires that name; a column already called `text` is dropped from
// JSONL rows and renamed `text_original` in CSV). Main thread.
#pragma once

#include <string>

namespace ej::cli {

// Writes `out_path` from `in_path`; throws ClientError naming the file and line on a problem.
void rename_text_field(const std::string& in_path, const std::string& field,
                       const std::string& out_path);

}  // namespace ej::cli
