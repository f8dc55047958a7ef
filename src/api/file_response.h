// serve_file: answers with a stored file as an attachment (Content-Disposition from `name`, with
// RFC 6266 escaping; nosniff; Range requests apply). 404 when the file cannot be opened. Defined
// in routes_datasets.cpp (dataset part downloads); POST /v1/files content uses it too. Workers.
#pragma once

#include <string>

#include "api/http/message.h"

namespace ej::api {

void serve_file(http::Response& res, const std::string& path, const std::string& name,
                const char* content_type);

}  // namespace ej::api
