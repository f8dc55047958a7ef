#include "hub/hub_env.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ej::hub::detail {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";
}  // namespace

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool env_truthy(const char* name) {
  std::string v = lower(env(name));
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

fs::path home_dir() {
  std::string h = env("HOME");
  return h.empty() ? fs::path("/") : fs::path(h);
}

fs::path hf_home() {
  std::string h = env("HF_HOME");
  if (!h.empty()) return h;
  std::string xdg = env("XDG_CACHE_HOME");
  return (xdg.empty() ? home_dir() / ".cache" : fs::path(xdg)) / "huggingface";
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string hf_token() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    std::string t = trim(env(name));
    if (!t.empty()) return t;
  }
  std::string path = env("HF_TOKEN_PATH");
  std::ifstream in(path.empty() ? hf_home() / "token" : fs::path(path));
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

std::string hf_endpoint() {
  std::string e = trim(env("HF_ENDPOINT"));
  if (e.empty()) e = kDefaultEndpoint;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

}  // namespace ej::hub::detail
