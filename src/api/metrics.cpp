#include "api/metrics.h"

#include <cstdio>

#include "common/call_timings.h"
#include "service/embedding_service.h"
#include "service/job_service.h"
#include "service/model_registry.h"

namespace ej::api {

namespace {

// A label value escaped as the text format requires (\\, \", \n).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void header(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string readable_route(std::string pattern) {
  for (size_t at; (at = pattern.find("([^/]+)")) != std::string::npos;) {
    pattern.replace(at, 7, "{id}");
  }
  return pattern;
}

void Metrics::observe_request(const std::string& route, const std::string& method, int status,
                              int64_t duration_us) {
  double s = static_cast<double>(duration_us) / 1e6;
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, method, status}];
  Latency& l = latency_[{route, method}];
  for (size_t i = 0; i < kBucketsS.size(); ++i) {
    if (s <= kBucketsS[i]) {
      ++l.buckets[i];
      break;
    }
  }
  ++l.count;
  l.sum_s += s;
}

namespace {

// This process's job workers (service/job_stats.h): every kind of job (embed jobs, batches).
void render_jobs(std::string* out, const service::JobStats& j) {
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    const std::atomic<int64_t>& value;
  };
  const Series series[] = {
      {"embedjobs_jobs_running", "gauge",
       "Chunks or final steps of jobs this process's workers hold now.", j.running},
      {"embedjobs_job_chunks_committed_total", "counter", "Job chunks embedded and committed.",
       j.chunks_committed},
      {"embedjobs_job_rows_total", "counter",
       "Rows of jobs embedded and committed (its rate is the jobs' rows/s).", j.rows_committed},
      {"embedjobs_job_tokens_total", "counter", "Input tokens of the committed job rows.",
       j.tokens_committed},
      {"embedjobs_job_chunk_failures_total", "counter",
       "Chunk attempts that failed (retried, or the job failed).", j.chunk_failures},
      {"embedjobs_job_leases_lost_total", "counter",
       "Job runs stopped because another worker held the job (an expired lease).", j.leases_lost},
  };
  for (const Series& s : series) {
    header(out, s.name, s.type, s.help);
    *out += std::string(s.name) + " " + std::to_string(s.value.load()) + "\n";
  }
  header(out, "embedjobs_jobs_finished_total", "counter",
         "Jobs this process's workers finished, by final status.");
  const std::pair<const char*, const std::atomic<int64_t>&> finished[] = {
      {"complete", j.jobs_complete}, {"cancelled", j.jobs_cancelled}, {"failed", j.jobs_failed}};
  for (const auto& [status, n] : finished) {
    *out += std::string("embedjobs_jobs_finished_total{status=\"") + status + "\"} " +
            std::to_string(n.load()) + "\n";
  }
}

// Calls of the store (SQLite or PostgreSQL) and the time they took, by Store method.
void render_store(std::string* out, const CallTimings& timings) {
  const auto ops = timings.snapshot();
  header(out, "embedjobs_store_calls_total", "counter", "Store calls by method.");
  for (const auto& [op, s] : ops) {
    *out +=
        "embedjobs_store_calls_total{op=\"" + label(op) + "\"} " + std::to_string(s.calls) + "\n";
  }
  header(out, "embedjobs_store_seconds_total", "counter",
         "Time spent in store calls by method (wall time: locks, disk, network).");
  for (const auto& [op, s] : ops) {
    *out += "embedjobs_store_seconds_total{op=\"" + label(op) + "\"} " +
            number(static_cast<double>(s.total_us) / 1e6) + "\n";
  }
}

}  // namespace

std::string Metrics::render(service::Services& services) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    header(&out, "embedjobs_http_requests_total", "counter", "HTTP requests by route and status.");
    for (const auto& [key, n] : requests_) {
      const auto& [route, method, status] = key;
      out += "embedjobs_http_requests_total{route=\"" + label(route) + "\",method=\"" +
             label(method) + "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(n) +
             "\n";
    }
    header(&out, "embedjobs_http_request_duration_seconds", "histogram",
           "HTTP request latency, first byte in to response out.");
    for (const auto& [key, l] : latency_) {
      std::string labels =
          "route=\"" + label(key.first) + "\",method=\"" + label(key.second) + "\"";
      int64_t cumulative = 0;
      for (size_t i = 0; i < kBucketsS.size(); ++i) {
        cumulative += l.buckets[i];
        out += "embedjobs_http_request_duration_seconds_bucket{" + labels + ",le=\"" +
               number(kBucketsS[i]) + "\"} " + std::to_string(cumulative) + "\n";
      }
      out += "embedjobs_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
             std::to_string(l.count) + "\n";
      out +=
          "embedjobs_http_request_duration_seconds_sum{" + labels + "} " + number(l.sum_s) + "\n";
      out += "embedjobs_http_request_duration_seconds_count{" + labels + "} " +
             std::to_string(l.count) + "\n";
    }
  }

  struct Series {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const service::SchedulerStats&);
  };
  static const Series kSeries[] = {
      {"embedjobs_queued_tokens", "gauge", "Tokens waiting in the model's scheduler.",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.queued_tokens); }},
      {"embedjobs_engine_batches_total", "counter", "Engine batches run.",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.batches); }},
      {"embedjobs_engine_sequences_total", "counter",
       "Sequences embedded (sequences / batches = the mean batch size).",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.sequences); }},
      {"embedjobs_engine_tokens_total", "counter", "Tokens embedded (its rate is tokens/s).",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.tokens); }},
      {"embedjobs_engine_seconds_total", "counter", "Time spent inside the engine.",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.engine_us) / 1e6; }},
      {"embedjobs_rejected_requests_total", "counter",
       "Sync requests refused with 429 because the queue was full.",
       [](const service::SchedulerStats& s) { return static_cast<double>(s.rejected); }},
  };
  std::vector<std::pair<std::string, service::SchedulerStats>> stats;
  for (const service::ServedModel* m : services.models->list()) {
    stats.emplace_back(m->name, services.embeddings->stats(*m));
  }
  for (const Series& series : kSeries) {
    header(&out, series.name, series.type, series.help);
    for (const auto& [model, s] : stats) {
      out += std::string(series.name) + "{model=\"" + label(model) + "\"} " +
             number(series.value(s)) + "\n";
    }
  }
  render_jobs(&out, services.jobs->stats());
  if (services.store_timings) render_store(&out, *services.store_timings);
  return out;
}

}  // namespace ej::api
