// serve_blob: answers with a stored blob (service/blob_store.h) as an attachment
// (Content-Disposition from `name`, with RFC 6266 escaping; nosniff; Range requests apply). 404
// when the blob is gone. Defined in routes_datasets.cpp (dataset part downloads); GET
// /v1/files/{id}/content uses it too. HTTP threads.
#pragma once

#include <string>

#include "api/http/message.h"

namespace ej::service {
class BlobStore;
}  // namespace ej::service

namespace ej::api {

void serve_blob(http::Response& res, service::BlobStore& blobs, const std::string& key,
                const std::string& name, const char* content_type);

}  // namespace ej::api
