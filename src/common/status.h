// The statuses of datasets and embed jobs. Inside the program they are these enums; they become
// strings only at the edges: the database columns and the wire, which use the same names
// (Cohere's: `validated`, `processing`, `complete`, ...). Stateless; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace ej {

// A dataset's validation_status. (Cohere also lists `unknown` and `skipped`; this server never
// produces them.)
enum class DatasetStatus { kQueued, kProcessing, kValidated, kFailed };

// An embed job's status: processing -> complete | failed, or processing -> cancelling ->
// cancelled.
enum class JobStatus { kProcessing, kCancelling, kCancelled, kComplete, kFailed };

std::string_view status_name(DatasetStatus s);
std::string_view status_name(JobStatus s);
// nullopt for a name that is not a status.
std::optional<DatasetStatus> parse_dataset_status(std::string_view name);
std::optional<JobStatus> parse_job_status(std::string_view name);

// complete, cancelled and failed: nothing will change any more.
inline bool is_final(JobStatus s) {
  return s == JobStatus::kComplete || s == JobStatus::kCancelled || s == JobStatus::kFailed;
}

}  // namespace ej
