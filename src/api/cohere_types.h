// Conversions between the service layer's resources and Cohere's wire objects (the only place
// Cohere's JSON names live). Stateless; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/part_urls.h"
#include "service/model_registry.h"
#include "service/resources.h"

namespace ej::api {

// base_url: scheme://host[:port][/prefix] used to make absolute part URLs.
nlohmann::json dataset_json(const service::Dataset& dataset, const PartUrlSigner& signer,
                            const std::string& base_url, int64_t now_s);
// Extra job fields the SDKs keep: progress {total_rows, completed_rows, failed_rows,
// rows_per_second, eta_seconds}. rows_per_second is the average since the job was created.
nlohmann::json job_progress_json(const service::Job& job, int64_t now_us);
nlohmann::json job_json(const service::Job& job);
nlohmann::json model_json(const service::ServedModel& model);
nlohmann::json api_meta(const std::string& version);

}  // namespace ej::api
