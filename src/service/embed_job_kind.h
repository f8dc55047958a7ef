// EmbedJobKind: the "embed" job kind (POST /v1/embed-jobs). A chunk's embed-input rows go to the
// model's scheduler as ONE bulk task with the job's input_type / truncate; the chunk file is an
// embed-result Avro part (text, embeddings in the job's types, kept fields); the output is an
// embed-result dataset named `<job name or id>-output`. See job_kind.h for the threads.
#pragma once

#include "service/job_kind.h"
#include "service/services.h"

namespace ej::service {

class EmbedJobKind final : public JobKind {
 public:
  explicit EmbedJobKind(Services* services) : services_(services) {}
  std::string_view name() const override { return "embed"; }
  std::unique_ptr<KindRun> begin(const store::JobRow& job,
                                 const store::DatasetRow& input) const override;

 private:
  Services* services_;
};

}  // namespace ej::service
