// Services: the service layer's objects, created once by the CLI and shared by the API layer.
// Thread-safe as their members are.
#pragma once

#include <memory>

#include "common/call_timings.h"
#include "service/config.h"
#include "service/model_registry.h"

namespace ej::store {
class Store;
}  // namespace ej::store

namespace ej::service {

class ApiKeys;
class BatchService;
class BlobStore;
class DatasetService;
class EmbeddingService;
class JobService;
class OpenAiBatches;
class OpenAiFiles;

struct Services {
  ServiceConfig config;
  store::Store* store = nullptr;  // used by the services only; the API layer never sees it
  const CallTimings* store_timings = nullptr;  // calls and time by Store method (/metrics)
  BlobStore* blobs = nullptr;  // dataset parts, kept originals, queued uploads, job chunks
  ApiKeys* keys = nullptr;
  ModelRegistry* models = nullptr;
  DatasetService* datasets = nullptr;
  JobService* jobs = nullptr;
  EmbeddingService* embeddings = nullptr;   // every embedding and tokenization goes through it
  BatchService* batches = nullptr;          // /v2/batches (runs on `jobs`)
  OpenAiFiles* openai_files = nullptr;      // /v1/files (datasets of OpenAI batch files)
  OpenAiBatches* openai_batches = nullptr;  // /v1/batches (runs on `jobs`)
};

}  // namespace ej::service
