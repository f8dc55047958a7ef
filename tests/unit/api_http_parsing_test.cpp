// The HTTP front's parsers on their own: multipart (fed in every split), bounded JSON depth,
// Range resolution, query decoding and log escaping.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/http/json_body.h"
#include "api/http/message.h"
#include "api/http/multipart.h"
#include "api/http/range.h"
#include "common/error.h"

namespace ej::api::http {
namespace {

struct Collected {
  std::vector<MultipartPart> parts;
  std::vector<std::string> data;
};

// Feeds `body` in pieces of `step` bytes; returns what the callbacks saw.
Collected parse_multipart(const std::string& body, size_t step,
                          const std::string& boundary = "XX") {
  Collected c;
  MultipartParser p(
      boundary,
      [&](const MultipartPart& part) {
        c.parts.push_back(part);
        c.data.emplace_back();
        return true;
      },
      [&](const char* d, size_t n) {
        c.data.back().append(d, n);
        return true;
      });
  for (size_t i = 0; i < body.size(); i += step) {
    p.feed(body.data() + i, std::min(step, body.size() - i));
  }
  p.finish();
  return c;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(Multipart, PartsAndDataInEverySplit) {
  const std::string file = "line one\r\n--X not a boundary\r\n--XY neither\r\nend";
  const std::string body =
      "preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
      "my set\r\n--XX\r\nContent-Disposition: form-data; name=\"data\"; "
      "filename=\"a;b.jsonl\"\r\nContent-Type: text/plain\r\n\r\n" +
      file + "\r\n--XX--\r\nepilogue";
  for (size_t step : {1, 2, 3, 7, 16, 1000}) {
    Collected c = parse_multipart(body, step);
    ASSERT_EQ(c.parts.size(), 2u) << step;
    EXPECT_EQ(c.parts[0].name, "name");
    EXPECT_EQ(c.data[0], "my set");
    EXPECT_EQ(c.parts[1].name, "data");
    EXPECT_EQ(c.parts[1].filename, "a;b.jsonl");
    EXPECT_EQ(c.parts[1].content_type, "text/plain");
    EXPECT_EQ(c.data[1], file) << step;
  }
}

TEST(Multipart, MalformedBodiesSayWhatIsWrong) {
  EXPECT_NE(error_of([] { parse_multipart("no boundary at all", 5); }).find("no boundary '--XX'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_multipart("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc", 4);
            }).find("before the closing boundary"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_multipart("--XX\r\nX: y\r\n\r\nabc\r\n--XX--", 4);
            }).find("no Content-Disposition"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_multipart("--XX\r\nContent-Disposition: form-data\r\n\r\na\r\n--XX--", 3);
            }).find("has no name"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_multipart("--XXjunk", 1); }).find("expected CRLF"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_multipart("--XX\r\n" + std::string(20000, 'h'), 1000);
            }).find("headers of part 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { multipart_boundary("multipart/form-data"); }).find("no boundary"),
            std::string::npos);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a b\""), "a b");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=q1"), "q1");
}

TEST(Multipart, CallbackFalseStops) {
  MultipartParser p(
      "XX", [](const MultipartPart&) { return false; }, [](const char*, size_t) { return true; });
  std::string body = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc\r\n--XX--";
  EXPECT_FALSE(p.feed(body.data(), body.size()));
}

TEST(BoundedJson, DepthIsCheckedWhileParsing) {
  for (int depth : {65, 1000, 100000, 1000000}) {
    std::string deep = std::string(depth, '[') + std::string(depth, ']');
    std::string msg = error_of([&] { parse_bounded_json(deep); });
    EXPECT_NE(msg.find("nest deeper than 64"), std::string::npos) << depth;
    std::string objects;
    for (int i = 0; i < depth; ++i) objects += "{\"a\":";
    objects += "1" + std::string(depth, '}');
    EXPECT_NE(error_of([&] { parse_bounded_json(objects); }).find("nest deeper"),
              std::string::npos);
  }
  std::string ok = std::string(64, '[') + std::string(64, ']');
  nlohmann::json v = parse_bounded_json(ok);
  nlohmann::json copy = v;  // copies recurse: bounded now
  EXPECT_EQ(copy, v);
  EXPECT_NE(error_of([] { parse_bounded_json("{\"a\": [1, 2,]}"); }).find("at byte"),
            std::string::npos);
  EXPECT_EQ(parse_bounded_json("{\"a\": [1, {\"b\": \"c\"}]}")["a"][1]["b"], "c");
}

// Found by tests/fuzz/fuzz_json_request: a number past double's range escaped as nlohmann's
// out_of_range (the router turned it into a 400 quoting the library's message).
TEST(BoundedJson, NumberOutOfRangeIsA400) {
  for (const char* text : {"[1e400]", "{\"max_tokens\": -1e99999}", "[[[33333E3333333333]]]"}) {
    std::string msg = error_of([&] { parse_bounded_json(text); });
    EXPECT_NE(msg.find("out of range"), std::string::npos) << text << ": " << msg;
    EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
  }
}

TEST(Range, OneRangeHonouredOthersIgnored) {
  auto r = resolve_range("bytes=10-19", 100);
  EXPECT_EQ(r.kind, RangeResult::kPartial);
  EXPECT_EQ(r.offset, 10u);
  EXPECT_EQ(r.length, 10u);
  r = resolve_range("bytes=90-", 100);
  EXPECT_EQ(r.offset, 90u);
  EXPECT_EQ(r.length, 10u);
  r = resolve_range("bytes=-5", 100);
  EXPECT_EQ(r.offset, 95u);
  EXPECT_EQ(r.length, 5u);
  r = resolve_range("bytes=50-5000", 100);
  EXPECT_EQ(r.length, 50u);
  EXPECT_EQ(resolve_range("bytes=100-", 100).kind, RangeResult::kUnsatisfiable);
  EXPECT_EQ(resolve_range("bytes=0-1,2-3", 100).kind, RangeResult::kWhole);
  EXPECT_EQ(resolve_range("bytes=9-3", 100).kind, RangeResult::kWhole);
  EXPECT_EQ(resolve_range("bytes=99999999999999999999-", 100).kind, RangeResult::kWhole);
  EXPECT_EQ(resolve_range("items=0-1", 100).kind, RangeResult::kWhole);
  EXPECT_EQ(resolve_range("", 100).length, 100u);
}

TEST(Message, QueryAndHeaders) {
  Request req;
  parse_query("a=1&b=x%20y+z&a=2&flag&c=%zz", &req.params);
  EXPECT_EQ(req.get_param_value_count("a"), 2u);
  EXPECT_EQ(req.get_param_value("a", 1), "2");
  EXPECT_EQ(req.get_param_value("b"), "x y z");
  EXPECT_TRUE(req.has_param("flag"));
  EXPECT_EQ(req.get_param_value("c"), "%zz");
  EXPECT_EQ(req.get_param_value("missing"), "");
  req.headers.emplace_back("content-type", "Multipart/Form-Data; boundary=x");
  EXPECT_EQ(req.get_header_value("Content-Type"), "Multipart/Form-Data; boundary=x");
  EXPECT_TRUE(req.is_multipart_form_data());
  EXPECT_EQ(escape_for_log("a\r\nINFO x\\\x1b"), "a\\x0d\\x0aINFO x\\x5c\\x1b");
  EXPECT_EQ(escape_for_log(std::string(300, 'a'), 10), std::string(10, 'a') + "...");
}

}  // namespace
}  // namespace ej::api::http
