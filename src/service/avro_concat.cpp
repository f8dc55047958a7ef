#include "service/avro_concat.h"

#include <cstring>
#include <functional>
#include <memory>

#include "common/durable_file.h"
#include "common/error.h"
#include "service/blob_store.h"

namespace ej::service {

namespace {

constexpr size_t kSyncSize = 16;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::kInternal, "avro concat: " + path + ": " + what);
}

// Reads a zig-zag varint long at pos.
int64_t read_long(const std::string& buf, size_t* pos, const std::string& path) {
  uint64_t v = 0;
  int shift = 0;
  while (true) {
    if (*pos >= buf.size() || shift > 63) fail(path, "truncated varint");
    uint8_t b = static_cast<uint8_t>(buf[(*pos)++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

struct Parsed {
  std::string data;
  size_t header_end = 0;  // offset just after the sync marker of the header
  std::string sync;
  std::string meta;  // header metadata bytes (schema + codec), to compare files
};

using Opener = std::function<std::unique_ptr<BlobReader>(const std::string&)>;

Parsed parse_header(const Opener& open, const std::string& path) {
  Parsed p;
  p.data = read_all(*open(path));
  if (p.data.size() < 4 || std::memcmp(p.data.data(), "Obj\x01", 4) != 0) {
    fail(path, "not an Avro object container file");
  }
  size_t pos = 4;
  while (true) {
    int64_t count = read_long(p.data, &pos, path);
    if (count == 0) break;
    if (count < 0) {
      count = -count;
      read_long(p.data, &pos, path);  // block byte size
    }
    for (int64_t i = 0; i < count * 2; ++i) {  // key, value
      int64_t len = read_long(p.data, &pos, path);
      if (len < 0 || pos + static_cast<size_t>(len) > p.data.size()) fail(path, "bad metadata");
      pos += static_cast<size_t>(len);
    }
  }
  p.meta = p.data.substr(4, pos - 4);
  if (pos + kSyncSize > p.data.size()) fail(path, "truncated header");
  p.sync = p.data.substr(pos, kSyncSize);
  p.header_end = pos + kSyncSize;
  return p;
}

int64_t concat(const Opener& open, const std::vector<std::string>& inputs,
               const std::string& out_path) {
  if (inputs.empty()) throw Error(ErrorCode::kInternal, "avro concat: no inputs");
  DurableFile out(out_path);  // removed again if anything below throws
  std::string out_sync;
  std::string out_meta;
  int64_t written = 0;
  auto put = [&](const char* p, size_t n) {
    out.write(p, n);
    written += static_cast<int64_t>(n);
  };
  for (size_t f = 0; f < inputs.size(); ++f) {
    Parsed p = parse_header(open, inputs[f]);
    if (f == 0) {
      out_sync = p.sync;
      out_meta = p.meta;
      put(p.data.data(), p.header_end);
    } else if (p.meta != out_meta) {
      fail(inputs[f], "schema or codec differs from " + inputs[0]);
    }
    size_t pos = p.header_end;
    while (pos < p.data.size()) {
      size_t block_start = pos;
      int64_t count = read_long(p.data, &pos, inputs[f]);
      int64_t size = read_long(p.data, &pos, inputs[f]);
      if (count < 0 || size < 0 || pos + static_cast<size_t>(size) + kSyncSize > p.data.size()) {
        fail(inputs[f], "truncated block");
      }
      if (p.data.compare(pos + static_cast<size_t>(size), kSyncSize, p.sync) != 0) {
        fail(inputs[f], "bad sync marker");
      }
      size_t body_end = pos + static_cast<size_t>(size);
      if (count > 0) {
        put(p.data.data() + block_start, body_end - block_start);
        put(out_sync.data(), kSyncSize);
      }
      pos = body_end + kSyncSize;
    }
  }
  out.commit();
  return written;
}

}  // namespace

int64_t concat_avro_files(BlobStore& blobs, const std::vector<std::string>& input_keys,
                          const std::string& out_path) {
  return concat([&blobs](const std::string& key) { return blobs.must_open(key); }, input_keys,
                out_path);
}

int64_t concat_avro_files(const std::vector<std::string>& input_paths,
                          const std::string& out_path) {
  return concat(open_local_file, input_paths, out_path);
}

}  // namespace ej::service
