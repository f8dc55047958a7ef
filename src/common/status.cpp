#include "common/status.h"

#include <array>
#include <utility>

namespace ej {

namespace {

constexpr std::array<std::pair<DatasetStatus, std::string_view>, 4> kDatasetNames = {{
    {DatasetStatus::kQueued, "queued"},
    {DatasetStatus::kProcessing, "processing"},
    {DatasetStatus::kValidated, "validated"},
    {DatasetStatus::kFailed, "failed"},
}};

constexpr std::array<std::pair<JobStatus, std::string_view>, 5> kJobNames = {{
    {JobStatus::kProcessing, "processing"},
    {JobStatus::kCancelling, "cancelling"},
    {JobStatus::kCancelled, "cancelled"},
    {JobStatus::kComplete, "complete"},
    {JobStatus::kFailed, "failed"},
}};

template <typename Enum, size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum s) {
  for (const auto& [value, name] : names) {
    if (value == s) return name;
  }
  return "unknown";
}

template <typename Enum, size_t N>
std::optional<Enum> parse(const std::array<std::pair<Enum, std::string_view>, N>& names,
                          std::string_view name) {
  for (const auto& [value, n] : names) {
    if (n == name) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view status_name(DatasetStatus s) {
  return name_of(kDatasetNames, s);
}
std::string_view status_name(JobStatus s) {
  return name_of(kJobNames, s);
}
std::optional<DatasetStatus> parse_dataset_status(std::string_view name) {
  return parse(kDatasetNames, name);
}
std::optional<JobStatus> parse_job_status(std::string_view name) {
  return parse(kJobNames, name);
}

}  // namespace ej
