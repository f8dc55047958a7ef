// Internal to ej_hub: the environment variables huggingface_hub reads (HF_HOME, HF_TOKEN,
// HF_ENDPOINT, ...) and the small text helpers their values need. Owns nothing; every function
// reads the process environment (or the token file) afresh, so it is safe from any thread as long
// as nobody calls setenv() meanwhile.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ej::hub::detail {

// The variable's value, or "" when unset.
std::string env(const char* name);
// True for 1 / true / yes / on (any case).
bool env_truthy(const char* name);
std::string lower(std::string s);
std::string trim(std::string_view s);

// $HOME (or "/").
std::filesystem::path home_dir();
// $HF_HOME, else ${XDG_CACHE_HOME:-~/.cache}/huggingface.
std::filesystem::path hf_home();
// $HF_TOKEN (or $HUGGING_FACE_HUB_TOKEN), else the file $HF_TOKEN_PATH or $HF_HOME/token; "" if
// none.
std::string hf_token();
// $HF_ENDPOINT without a trailing slash, default https://huggingface.co.
std::string hf_endpoint();

}  // namespace ej::hub::detail
