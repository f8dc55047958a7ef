// Concatenates Avro object container files that share one schema and codec into one file by
// copying their data blocks verbatim (no decode / re-encode): the output takes the first input's
// header and sync marker, and every block is re-framed with that marker. Used to assemble a
// job's output parts from its committed chunk files (blobs). Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ej::service {

class BlobStore;

// Concatenates the blobs `input_keys` of `blobs` into the local file `out_path`, written by the
// durable-write rule (common/durable_file.h). Returns the bytes written. Throws
// ej::Error(kInternal) when an input is missing, is not an Avro container file, or the inputs'
// schemas / codecs differ.
int64_t concat_avro_files(BlobStore& blobs, const std::vector<std::string>& input_keys,
                          const std::string& out_path);
// The same over local files (the CLI's downloaded parts).
int64_t concat_avro_files(const std::vector<std::string>& input_paths, const std::string& out_path);

}  // namespace ej::service
