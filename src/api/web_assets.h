// The dashboard's static files (web/ in the repository), compiled into the binary at build time
// by cmake/embed_web_assets.cmake. Read-only data; any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace ej::api {

struct WebAsset {
  const char* path;          // "/ui/app.js"
  const char* content_type;  // "text/javascript; charset=utf-8"
  const unsigned char* data;
  size_t size;
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Every file of web/, sorted by path.
std::span<const WebAsset> web_assets();

}  // namespace ej::api
