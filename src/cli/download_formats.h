// Turns the Avro parts of a downloaded dataset (in order) into one file of the format a user
// asked for: jsonl (one record per line), csv (nested fields flattened to "a.b" columns, arrays
// as JSON text, cells that a spreadsheet would run as a formula prefixed with '), npy (the
// embed-result's float embeddings as a float32 [rows, dims] matrix) or avro (the parts joined
// into one container file). Stateless; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ej::cli {

enum class DownloadFormat { kJsonl, kCsv, kNpy, kAvro };

// "jsonl" | "csv" | "npy" | "avro"; throws std::invalid_argument naming the choices.
DownloadFormat parse_download_format(const std::string& name);

// Writes `out_path` from `parts`; returns the rows written. Throws std::runtime_error with a
// message for the user (no float embeddings for npy, rows of different dimensions, ...).
int64_t write_download(const std::vector<std::string>& parts, DownloadFormat format,
                       const std::string& out_path);

// A CSV cell: quoted when needed; a text starting with = + - @ TAB or CR gets a leading '
// so that a spreadsheet shows it instead of running it (CSV formula injection).
std::string csv_cell(const std::string& text, bool is_text);

}  // namespace ej::cli
