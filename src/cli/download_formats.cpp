#include "cli/download_formats.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "service/avro_concat.h"
#include "service/avro_parts.h"

namespace ej::cli {

namespace {

using nlohmann::json;

// Calls fn(record) for every record of every part, in order.
template <typename Fn>
int64_t for_each_record(const std::vector<std::string>& parts, Fn&& fn) {
  int64_t rows = 0;
  for (const std::string& part : parts) {
    service::AvroPartReader reader(part);
    json record;
    while (reader.next(&record)) {
      fn(record);
      ++rows;
    }
  }
  return rows;
}

// Flattens one level of nested records into "outer.inner" columns, in schema order.
void flatten(const json& value, const std::string& prefix, json* out) {
  for (auto it = value.begin(); it != value.end(); ++it) {
    std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      flatten(*it, name, out);
    } else {
      (*out)[name] = *it;
    }
  }
}

std::string cell_of(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_cell(v.get<std::string>(), true);
  return csv_cell(v.dump(), false);
}

int64_t write_csv(const std::vector<std::string>& parts, std::ofstream& out) {
  std::vector<std::string> columns;
  return for_each_record(parts, [&](const json& record) {
    json flat = json::object();
    flatten(record, "", &flat);
    if (columns.empty()) {
      for (auto it = flat.begin(); it != flat.end(); ++it) columns.push_back(it.key());
      for (size_t i = 0; i < columns.size(); ++i) {
        out << (i ? "," : "") << csv_cell(columns[i], true);
      }
      out << "\r\n";
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      auto it = flat.find(columns[i]);
      out << (i ? "," : "") << (it == flat.end() ? std::string() : cell_of(*it));
    }
    out << "\r\n";
  });
}

// NumPy .npy v1.0: magic, header length, a Python dict literal padded to 64 bytes, then data.
void write_npy_header(std::FILE* f, int64_t rows, int64_t dims) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                     ", " + std::to_string(dims) + "), }";
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::fwrite(magic, 1, 8, f);
  uint16_t len = static_cast<uint16_t>(dict.size());
  unsigned char le[2] = {static_cast<unsigned char>(len & 0xff),
                         static_cast<unsigned char>(len >> 8)};
  std::fwrite(le, 1, 2, f);
  std::fwrite(dict.data(), 1, dict.size(), f);
}

int64_t write_npy(const std::vector<std::string>& parts, const std::string& out_path) {
  // Pass 1 counts rows and checks dimensions; pass 2 streams the floats (memory stays small).
  int64_t rows = 0, dims = -1;
  auto vector_of = [](const json& record) -> const json* {
    auto e = record.find("embeddings");
    if (e == record.end() || !e->is_object()) return nullptr;
    auto f = e->find("float");
    return f == e->end() || !f->is_array() ? nullptr : &*f;
  };
  for_each_record(parts, [&](const json& record) {
    const json* v = vector_of(record);
    if (!v) {
      throw std::runtime_error("row " + std::to_string(rows) +
                               " has no float embeddings: npy needs an embed-result dataset "
                               "made with the float embedding type");
    }
    if (dims < 0) dims = static_cast<int64_t>(v->size());
    if (static_cast<int64_t>(v->size()) != dims) {
      throw std::runtime_error("row " + std::to_string(rows) + " has " + std::to_string(v->size()) +
                               " dimensions, row 0 has " + std::to_string(dims));
    }
    ++rows;
  });
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(out_path.c_str(), "wb"),
                                                    &std::fclose);
  if (!f) throw std::runtime_error("cannot write " + out_path);
  write_npy_header(f.get(), rows, dims < 0 ? 0 : dims);
  std::vector<float> row;
  for_each_record(parts, [&](const json& record) {
    const json& v = *vector_of(record);
    row.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) row[i] = v[i].get<float>();
    std::fwrite(row.data(), sizeof(float), row.size(), f.get());  // x86/ARM: little-endian
  });
  if (std::fflush(f.get()) != 0) throw std::runtime_error("cannot write " + out_path);
  return rows;
}

}  // namespace

DownloadFormat parse_download_format(const std::string& name) {
  if (name == "jsonl") return DownloadFormat::kJsonl;
  if (name == "csv") return DownloadFormat::kCsv;
  if (name == "npy") return DownloadFormat::kNpy;
  if (name == "avro") return DownloadFormat::kAvro;
  throw std::invalid_argument("--format must be jsonl, csv, npy or avro, got '" + name + "'");
}

std::string csv_cell(const std::string& text, bool is_text) {
  std::string s = text;
  if (is_text && !s.empty() &&
      (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r')) {
    s.insert(s.begin(), '\'');
  }
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

int64_t write_download(const std::vector<std::string>& parts, DownloadFormat format,
                       const std::string& out_path) {
  switch (format) {
    case DownloadFormat::kAvro: {
      int64_t rows = 0;
      for (const std::string& p : parts) {
        service::AvroPartReader reader(p);
        json r;
        while (reader.next(&r)) ++rows;
      }
      service::concat_avro_files(parts, out_path);
      return rows;
    }
    case DownloadFormat::kNpy:
      return write_npy(parts, out_path);
    case DownloadFormat::kJsonl:
    case DownloadFormat::kCsv: {
      std::ofstream out(out_path, std::ios::binary);
      if (!out) throw std::runtime_error("cannot write " + out_path);
      int64_t rows = 0;
      if (format == DownloadFormat::kCsv) {
        rows = write_csv(parts, out);
      } else {
        rows = for_each_record(parts, [&](const json& record) {
          out << record.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
        });
      }
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + out_path);
      return rows;
    }
  }
  return 0;
}

}  // namespace ej::cli
