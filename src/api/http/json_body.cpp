#include "api/http/json_body.h"

#include "common/error.h"

namespace ej::api::http {

namespace {
struct TooDeep {};
}  // namespace

nlohmann::json parse_bounded_json(std::string_view text, int max_depth) {
  // The callback sees the depth of each container as it opens; throwing there unwinds the
  // (iterative) parser before the deeper levels exist.
  auto bound = [max_depth](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, bound, true);
  } catch (const TooDeep&) {
    throw_invalid("invalid json: arrays and objects nest deeper than " + std::to_string(max_depth) +
                  " levels");
  } catch (const nlohmann::json::parse_error& e) {
    throw_invalid("invalid json syntax at byte " + std::to_string(e.byte) +
                  ": the request body is not valid JSON");
  } catch (const nlohmann::json::out_of_range&) {
    // e.g. 1e400 (found by tests/fuzz/fuzz_json_request): not a library message with the text.
    throw_invalid("invalid json: a number is out of range (numbers must fit a 64-bit float)");
  } catch (const nlohmann::json::exception&) {
    throw_invalid("invalid json: the request body is not valid JSON");
  }
}

}  // namespace ej::api::http
