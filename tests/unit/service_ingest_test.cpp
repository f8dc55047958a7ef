// Tests for src/service/dataset_ingest.{h,cpp}: CSV / JSONL / TXT parsing and validation,
// format sniffing, schema inference, part splitting and the embed-input row reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "service/dataset_ingest.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ej_ingest_test_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    ASSERT_NE(p, nullptr);
    dir_ = p;
    fs::create_directory(out_dir());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string out_dir() const { return dir_ + "/out"; }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream f(path, std::ios::binary);
    f << content;
    return path;
  }

  IngestResult ingest(const std::string& filename, const std::string& content,
                      IngestOptions o = {}) {
    if (o.filename.empty()) o.filename = filename;
    return ingest_embed_input(write("upload.bin", content), out_dir(), "part", o);
  }

  // The error message of a failing ingest ("" if it succeeded).
  std::string error_of(const std::string& filename, const std::string& content,
                       IngestOptions o = {}) {
    try {
      ingest(filename, content, o);
    } catch (const ej::Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      return e.what();
    }
    return "";
  }

  std::vector<json> rows(const IngestResult& r) {
    std::vector<PartRef> parts;
    for (const auto& p : r.parts) parts.push_back({p.path, p.num_rows});
    EmbedInputReader reader(parts);
    std::vector<json> out;
    InputRow row;
    while (reader.next(&row)) {
      EXPECT_EQ(row.index, static_cast<int64_t>(out.size()));
      json j = row.kept;
      j["text"] = row.text;
      out.push_back(j);
    }
    return out;
  }

  std::vector<std::string> texts(const IngestResult& r) {
    std::vector<std::string> out;
    for (const auto& j : rows(r)) out.push_back(j["text"]);
    return out;
  }

  size_t files_in_out_dir() {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(out_dir()), fs::directory_iterator()));
  }

  std::string dir_;
};

json schema_field(const IngestResult& r, const std::string& name) {
  json s = json::parse(r.schema_json);
  for (const auto& f : s["fields"]) {
    if (f["name"] == name) return f["type"];
  }
  return json();
}

using Strings = std::vector<std::string>;

// ---- CSV ----------------------------------------------------------------------------------

TEST_F(IngestTest, CsvBasicWithKeptField) {
  IngestOptions o;
  o.keep_fields = {"id"};
  auto r = ingest("data.csv", "id,text,other\n1,hello,x\n2,world,y\n", o);
  EXPECT_EQ(r.format, InputFormat::kCsv);
  EXPECT_EQ(r.num_rows, 2);
  auto got = rows(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (json{{"text", "hello"}, {"id", "1"}}));  // CSV values are strings
  EXPECT_EQ(got[1], (json{{"text", "world"}, {"id", "2"}}));
  json s = json::parse(r.schema_json);
  EXPECT_EQ(s["name"], "embed_input");
  EXPECT_EQ(s["namespace"], "embedjobs");
  ASSERT_EQ(s["fields"].size(), 2u);
  EXPECT_EQ(s["fields"][0]["name"], "text");
  EXPECT_EQ(s["fields"][1]["name"], "id");
  EXPECT_EQ(s["fields"][1]["type"], "string");
  EXPECT_EQ(r.required_fields, Strings{"text"});
  EXPECT_EQ(r.preserve_fields, Strings{"id"});
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].samples[0], R"({"text":"hello","id":"1"})");
}

TEST_F(IngestTest, CsvQuotesDoubledQuotesEmbeddedNewlinesCrlfBom) {
  std::string csv =
      "\xEF\xBB\xBFtext,n\r\n"
      "\"a, with comma\",1\r\n"
      "\"she said \"\"hi\"\"\",2\r\n"
      "\"two\r\nlines\",3\r\n"
      "plain,4\r\n"
      "\r\n"
      "\"\"\"quoted\"\" start\",5";  // no final newline
  IngestOptions o;
  o.keep_fields = {"n"};
  auto r = ingest("x.csv", csv, o);
  EXPECT_EQ(texts(r), (Strings{"a, with comma", "she said \"hi\"", "two\r\nlines", "plain",
                               "\"quoted\" start"}));
  EXPECT_EQ(rows(r)[4]["n"], "5");
}

TEST_F(IngestTest, CsvCustomDelimiters) {
  IngestOptions o;
  o.csv_delimiter = ";";
  o.keep_fields = {"b"};
  auto r = ingest("x.csv", "b;text\n\"x;y\";one, two\n", o);
  auto got = rows(r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["text"], "one, two");
  EXPECT_EQ(got[0]["b"], "x;y");
  o.csv_delimiter = "\t";
  EXPECT_EQ(texts(ingest("x.csv", "b\ttext\n1\tsecond\n", o)), Strings{"second"});
}

TEST_F(IngestTest, CsvMissingTextColumn) {
  EXPECT_EQ(error_of("x.csv", "title,body\na,b\n"),
            "csv files must have a header with the required fields: [text] (line 1)");
  IngestOptions o;
  o.keep_fields = {"id"};
  EXPECT_EQ(error_of("x.csv", "text,title\na,b\n", o),
            "csv files must have a header with the required fields: [text, id] (line 1)");
}

TEST_F(IngestTest, CsvLineNumbersCountEmbeddedNewlines) {
  // line 1 header, lines 2-3 one record, line 4 empty text
  std::string csv = "text,id\n\"multi\nline\",1\n  ,2\nok,3\n";
  EXPECT_EQ(error_of("x.csv", csv), "line 4: field \"text\" is empty");
  IngestOptions o;
  o.skip_malformed_input = true;
  auto r = ingest("x.csv", csv, o);
  EXPECT_EQ(texts(r), (Strings{"multi\nline", "ok"}));
  EXPECT_EQ(r.skipped_rows, 1);
  EXPECT_EQ(r.warnings, Strings{"line 4: field \"text\" is empty"});
}

TEST_F(IngestTest, CsvBadUtf8NamesLineAndField) {
  std::string csv = "text,id\ngood,1\nbad \xC3\x28 byte,2\n";
  EXPECT_EQ(error_of("x.csv", csv), "line 3: field \"text\" is not valid UTF-8");
  IngestOptions o;
  o.keep_fields = {"id"};
  EXPECT_EQ(error_of("x.csv", "text,id\nfine,\xFF\n", o),
            "line 2: field \"id\" is not valid UTF-8");
  // Invalid bytes in a dropped column do not matter.
  EXPECT_EQ(texts(ingest("x.csv", "text,junk\nfine,\xFF\n")), Strings{"fine"});
}

TEST_F(IngestTest, CsvColumnCountMismatchAndUnclosedQuote) {
  EXPECT_EQ(error_of("x.csv", "text,id\na,1\nb,2,3\n"),
            "line 3: expected 2 columns as in the header but found 3");
  std::string err = error_of("x.csv", "text,id\na,1\n\"never closed,2\nmore\n");
  EXPECT_EQ(err, "line 3: a quoted field is not closed before the end of the file");
}

TEST_F(IngestTest, CsvOptionalColumnAbsentFromHeader) {
  IngestOptions o;
  o.optional_fields = {"lang"};
  auto r = ingest("x.csv", "text\nhello\n", o);
  EXPECT_EQ(schema_field(r, "lang"), json::array({"null", "string"}));
  auto got = rows(r);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0]["lang"].is_null());
}

TEST_F(IngestTest, CsvHeaderOnlyHasNoRows) {
  EXPECT_EQ(error_of("x.csv", "text,id\n"), "the dataset has no rows");
}

// ---- JSONL --------------------------------------------------------------------------------

TEST_F(IngestTest, JsonlMalformedLineWithAndWithoutSkip) {
  std::string jsonl = "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\": oops}\n{\"text\":\"d\"}\n";
  std::string err = error_of("x.jsonl", jsonl);
  EXPECT_EQ(err.rfind("line 3: invalid JSON", 0), 0u) << err;
  IngestOptions o;
  o.skip_malformed_input = true;
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(texts(r), (Strings{"a", "b", "d"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind("line 3: invalid JSON", 0), 0u);
  EXPECT_EQ(r.skipped_rows, 1);
}

TEST_F(IngestTest, JsonlTextRules) {
  EXPECT_EQ(error_of("x.jsonl", "{\"text\":\"a\"}\n{\"title\":\"b\"}\n"),
            "line 2: field \"text\" is missing");
  EXPECT_EQ(error_of("x.jsonl", "{\"text\":\"a\"}\n{\"text\":5}\n"),
            "line 2: field \"text\" must be a string but is a number");
  EXPECT_EQ(error_of("x.jsonl", "{\"text\":\" \\n\\t \"}\n"), "line 1: field \"text\" is empty");
  EXPECT_EQ(error_of("x.jsonl", "{\"text\":null}\n"), "line 1: field \"text\" is null");
  EXPECT_EQ(error_of("x.jsonl", "[1,2]\n"),
            "a JSON array is not supported: upload JSON Lines (one JSON object per line)");
  EXPECT_EQ(error_of("x.jsonl", "{\"text\":\"a\"}\n\"just a string\"\n"),
            "line 2: expected a JSON object but found a string");
}

TEST_F(IngestTest, JsonlBlankLinesCrlfBomAndLineNumbers) {
  std::string jsonl = "\xEF\xBB\xBF{\"text\":\"one\"}\r\n\r\n   \n{\"text\":\"two\"}\r\n{}\r\n";
  EXPECT_EQ(error_of("x.jsonl", jsonl), "line 5: field \"text\" is missing");
  IngestOptions o;
  o.skip_malformed_input = true;
  EXPECT_EQ(texts(ingest("x.jsonl", jsonl, o)), (Strings{"one", "two"}));
}

TEST_F(IngestTest, JsonlKeptAndOptionalFields) {
  std::string jsonl =
      "{\"text\":\"a\",\"id\":1,\"lang\":\"en\",\"drop\":true}\n"
      "{\"id\":2,\"text\":\"b\"}\n"
      "{\"text\":\"c\",\"id\":3,\"lang\":null}\n";
  IngestOptions o;
  o.keep_fields = {"id"};
  o.optional_fields = {"lang"};
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(r.preserve_fields, (Strings{"id", "lang"}));
  EXPECT_EQ(schema_field(r, "id"), "long");
  EXPECT_EQ(schema_field(r, "lang"), json::array({"null", "string"}));
  EXPECT_TRUE(schema_field(r, "drop").is_null());
  auto got = rows(r);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (json{{"text", "a"}, {"id", 1}, {"lang", "en"}}));
  EXPECT_EQ(got[1], (json{{"text", "b"}, {"id", 2}, {"lang", nullptr}}));
  EXPECT_EQ(got[2], (json{{"text", "c"}, {"id", 3}, {"lang", nullptr}}));
  // A kept field missing from a row fails it, naming the field and the line.
  EXPECT_EQ(error_of("x.jsonl",
                     "{\"text\":\"a\",\"id\":1}\n{\"text\":\"b\",\"id\":2}\n{\"text\":\"c\"}\n", o),
            "line 3: field \"id\" is missing");
  o.skip_malformed_input = true;
  auto r2 = ingest("x.jsonl", "{\"text\":\"a\",\"id\":1}\n{\"text\":\"c\"}\n", o);
  EXPECT_EQ(texts(r2), Strings{"a"});
  EXPECT_EQ(r2.warnings, Strings{"line 2: field \"id\" is missing"});
}

TEST_F(IngestTest, JsonlTypeInference) {
  std::string jsonl =
      "{\"text\":\"a\",\"i\":1,\"d\":1,\"b\":true,\"o\":{\"k\":[1]},\"m\":\"s\",\"n\":1}\n"
      "{\"text\":\"b\",\"i\":-7,\"d\":2.5,\"b\":false,\"o\":[1,2],\"m\":3,\"n\":null}\n";
  IngestOptions o;
  o.keep_fields = {"i", "d", "b", "o", "m", "n"};
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(schema_field(r, "i"), "long");
  EXPECT_EQ(schema_field(r, "d"), "double");
  EXPECT_EQ(schema_field(r, "b"), "boolean");
  EXPECT_EQ(schema_field(r, "o"), "string");
  EXPECT_EQ(schema_field(r, "m"), "string");
  EXPECT_EQ(schema_field(r, "n"), json::array({"null", "long"}));
  auto got = rows(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["i"], 1);
  EXPECT_EQ(got[1]["d"], 2.5);
  EXPECT_EQ(got[0]["d"], 1.0);
  EXPECT_EQ(got[1]["b"], false);
  EXPECT_EQ(got[0]["o"], "{\"k\":[1]}");
  EXPECT_EQ(got[1]["o"], "[1,2]");
  EXPECT_EQ(got[0]["m"], "s");
  EXPECT_EQ(got[1]["m"], "3");
  EXPECT_TRUE(got[1]["n"].is_null());
  // Order of kept fields follows the options, after text.
  json s = json::parse(r.schema_json);
  EXPECT_EQ(s["fields"][0]["name"], "text");
  EXPECT_EQ(s["fields"][1]["name"], "i");
  EXPECT_EQ(s["fields"][6]["name"], "n");
}

TEST_F(IngestTest, JsonlBadUtf8NamesField) {
  std::string jsonl = "{\"text\":\"ok\"}\n{\"id\":1,\"text\":\"bad \xC3\x28\"}\n";
  EXPECT_EQ(error_of("x.jsonl", jsonl), "line 2: field \"text\" is not valid UTF-8");
  IngestOptions o;
  o.skip_malformed_input = true;
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(texts(r), Strings{"ok"});
}

TEST_F(IngestTest, WarningsAreCapped) {
  std::string jsonl;
  for (int i = 0; i < 30; ++i) jsonl += "{\"nope\":1}\n{\"text\":\"t\"}\n";
  IngestOptions o;
  o.skip_malformed_input = true;
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(r.num_rows, 30);
  EXPECT_EQ(r.skipped_rows, 30);
  ASSERT_EQ(r.warnings.size(), 21u);
  EXPECT_EQ(r.warnings[0], "line 1: field \"text\" is missing");
  EXPECT_EQ(r.warnings[19], "line 39: field \"text\" is missing");
  EXPECT_EQ(r.warnings[20], "10 more malformed rows were skipped (30 in total)");
}

TEST_F(IngestTest, AllRowsMalformedFails) {
  IngestOptions o;
  o.skip_malformed_input = true;
  std::string err = error_of("x.jsonl", "{\"a\":1}\n{\"b\":2}\n", o);
  EXPECT_EQ(err,
            "the dataset has no valid rows: all 2 rows are malformed (first: line 1: field "
            "\"text\" is missing)");
}

// ---- TXT ----------------------------------------------------------------------------------

TEST_F(IngestTest, TxtDefaultSeparator) {
  auto r = ingest("notes.txt", "first line\r\n\r\n  second  \n\nthird");
  EXPECT_EQ(r.format, InputFormat::kTxt);
  EXPECT_EQ(texts(r), (Strings{"first line", "second", "third"}));
}

TEST_F(IngestTest, TxtCustomSeparator) {
  IngestOptions o;
  o.text_separator = "\n\n";
  EXPECT_EQ(texts(ingest("notes.txt", "para one\nstill one\n\npara two\n\n\n\npara three\n", o)),
            (Strings{"para one\nstill one", "para two", "para three"}));
  o.text_separator = "|||";
  EXPECT_EQ(texts(ingest("notes.txt", "a|||b||c||||||d", o)), (Strings{"a", "b||c", "d"}));
}

TEST_F(IngestTest, TxtBadUtf8LineNumber) {
  EXPECT_EQ(error_of("x.txt", "one\ntwo\n\nfour \xFF\n"),
            "line 4: field \"text\" is not valid UTF-8");
}

// ---- format detection -------------------------------------------------------------------------

TEST(DetectInputFormat, ByExtension) {
  EXPECT_EQ(detect_input_format("data.CSV", "whatever"), InputFormat::kCsv);
  EXPECT_EQ(detect_input_format("dir/x.JsonL", "whatever"), InputFormat::kJsonl);
  EXPECT_EQ(detect_input_format("x.json", "{}"), InputFormat::kJsonl);
  EXPECT_EQ(detect_input_format("x.txt", "text,a"), InputFormat::kTxt);
}

TEST(DetectInputFormat, Sniffing) {
  EXPECT_EQ(detect_input_format("", "\n  \n{\"text\":\"a\"}\n"), InputFormat::kJsonl);
  EXPECT_EQ(detect_input_format("blob", "id,text\n1,a\n"), InputFormat::kCsv);
  EXPECT_EQ(detect_input_format("upload", "\xEF\xBB\xBF\"text\";x\n", ';'), InputFormat::kCsv);
  EXPECT_EQ(detect_input_format("file.dat", "{\"text\":1}"), InputFormat::kJsonl);
  EXPECT_EQ(detect_input_format("", "text\nhello\n"), InputFormat::kCsv);
  EXPECT_THROW(detect_input_format("upload", "id,body\n1,a\n"), ej::Error);
  EXPECT_THROW(detect_input_format("blob", "just some prose"), ej::Error);
  EXPECT_THROW(detect_input_format("", "   \n"), ej::Error);
}

TEST(DetectInputFormat, ObjectObjectUpload) {
  try {
    detect_input_format("", "[object Object]");
    FAIL() << "no error";
  } catch (const ej::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    std::string m = e.what();
    EXPECT_NE(m.find("[object Object]"), std::string::npos);
    EXPECT_NE(m.find("Buffer, Blob or File"), std::string::npos);
  }
  EXPECT_THROW(detect_input_format("data.jsonl", "[object Object]\n"), ej::Error);
}

TEST_F(IngestTest, SniffedUploadsAndObjectObject) {
  EXPECT_EQ(ingest("", "{\"text\":\"x\"}\n").format, InputFormat::kJsonl);
  EXPECT_EQ(ingest("blob", "text,id\nx,1\n").format, InputFormat::kCsv);
  std::string err = error_of("", "[object Object]");
  EXPECT_NE(err.find("Pass the file contents as a Buffer, Blob or File"), std::string::npos) << err;
  EXPECT_EQ(error_of("upload", ""), "the uploaded file is empty");
}

// ---- options, parts and the reader ------------------------------------------------------------

TEST(ValidateIngestOptions, Rejects) {
  IngestOptions o;
  EXPECT_NO_THROW(validate_ingest_options(o));
  o.csv_delimiter = ";;";
  EXPECT_THROW(validate_ingest_options(o), ej::Error);
  o.csv_delimiter = "";
  EXPECT_THROW(validate_ingest_options(o), ej::Error);
  o = {};
  o.text_separator = "";
  EXPECT_THROW(validate_ingest_options(o), ej::Error);
  o = {};
  o.keep_fields = {"has space"};
  EXPECT_THROW(validate_ingest_options(o), ej::Error);
  o = {};
  o.optional_fields = {"embeddings"};
  EXPECT_THROW(validate_ingest_options(o), ej::Error);
  o = {};
  o.keep_fields = {"text", "ok_name2"};
  EXPECT_NO_THROW(validate_ingest_options(o));
}

TEST_F(IngestTest, SplitsPartsByRowCountAndReaderSeeks) {
  std::string jsonl;
  for (int i = 0; i < 10; ++i)
    jsonl += "{\"text\":\"row " + std::to_string(i) + "\",\"i\":" + std::to_string(i) + "}\n";
  IngestOptions o;
  o.max_rows_per_part = 3;
  o.keep_fields = {"i"};
  auto r = ingest("x.jsonl", jsonl, o);
  EXPECT_EQ(r.num_rows, 10);
  ASSERT_EQ(r.parts.size(), 4u);
  uint64_t total = 0;
  for (size_t k = 0; k < r.parts.size(); ++k) {
    const auto& p = r.parts[k];
    EXPECT_EQ(p.index, static_cast<int>(k));
    EXPECT_EQ(p.name, "part-" + std::to_string(k) + ".avro");
    EXPECT_EQ(p.path, out_dir() + "/" + p.name);
    EXPECT_EQ(p.num_rows, k < 3 ? 3 : 1);
    EXPECT_EQ(p.size_bytes, fs::file_size(p.path));
    EXPECT_EQ(p.samples.size(), static_cast<size_t>(p.num_rows));
    total += p.size_bytes;
  }
  EXPECT_EQ(r.total_bytes, total);
  EXPECT_EQ(r.parts[1].samples[0], R"({"text":"row 3","i":3})");
  EXPECT_EQ(files_in_out_dir(), 4u);  // no .tmp left behind

  auto got = rows(r);
  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i]["i"], i);

  for (bool known_counts : {true, false}) {
    std::vector<PartRef> parts;
    for (const auto& p : r.parts) parts.push_back({p.path, known_counts ? p.num_rows : -1});
    EmbedInputReader reader(parts);
    reader.seek(7);
    InputRow row;
    ASSERT_TRUE(reader.next(&row));
    EXPECT_EQ(row.index, 7);
    EXPECT_EQ(row.text, "row 7");
    EXPECT_EQ(row.kept, (json{{"i", 7}}));
    reader.seek(10);
    EXPECT_FALSE(reader.next(&row));
    EXPECT_EQ(json::parse(reader.schema_json())["name"], "embed_input");
  }
}

TEST_F(IngestTest, FailedIngestLeavesNoFiles) {
  EXPECT_NE(error_of("x.jsonl", "{\"text\":\"a\"}\n{\"bad\n"), "");
  EXPECT_EQ(files_in_out_dir(), 0u);
}

TEST_F(IngestTest, CancelStopsIngest) {
  std::string jsonl;
  for (int i = 0; i < 3000; ++i) jsonl += "{\"text\":\"t\"}\n";
  std::atomic<bool> cancel{true};
  IngestOptions o;
  o.cancel = &cancel;
  try {
    ingest("x.jsonl", jsonl, o);
    FAIL() << "not cancelled";
  } catch (const ej::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kClientClosed);
  }
  EXPECT_EQ(files_in_out_dir(), 0u);
}

TEST_F(IngestTest, ForcedFormatOverridesExtension) {
  IngestOptions o;
  o.format = InputFormat::kTxt;
  EXPECT_EQ(texts(ingest("data.csv", "text,id\n1,2\n", o)), (Strings{"text,id", "1,2"}));
}

}  // namespace
}  // namespace ej::service
