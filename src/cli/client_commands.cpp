#include "cli/client_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/api_client.h"
#include "cli/client_batches.h"
#include "cli/client_util.h"
#include "cli/download_formats.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/text_field.h"

namespace ej::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- waiting -------------------------------------------------------------------------------

json wait_dataset(ApiClient& api, const std::string& id, Progress& progress) {
  for (;;) {
    json d = api.get("/v1/datasets/" + url_encode(id))["dataset"];
    std::string st = str(d, "validation_status");
    if (st == "validated") return d;
    if (st == "failed") {
      progress.finish("dataset " + id + " failed validation: " + str(d, "validation_error"));
      throw ClientError(kExitFailed, 0, "validation failed: " + str(d, "validation_error"));
    }
    progress.note("dataset " + id + ": " + st);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

// Follows a job to its end; returns the final job.
json follow_job(ApiClient& api, const std::string& id, Progress& progress) {
  for (;;) {
    json j = api.get("/v1/embed-jobs/" + url_encode(id));
    std::string st = str(j, "status");
    json p = j.value("progress", json::object());
    int64_t done = p.value("completed_rows", j.value("rows_done", int64_t{0}));
    int64_t total = p.value("total_rows", j.value("total_rows", int64_t{0}));
    if (st == "complete" || st == "failed" || st == "cancelled") {
      progress.finish("job " + id + " " + st + ": " + std::to_string(done) + "/" +
                      std::to_string(total) + " rows" +
                      (st == "complete"
                           ? ", output dataset " + str(j, "output_dataset_id")
                           : (j.contains("failure_reason") ? " (" + str(j, "failure_reason") + ")"
                                                           : std::string())));
      return j;
    }
    progress.update(st, done, total, p.value("rows_per_second", -1.0),
                    p.value("eta_seconds", -1.0));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int job_exit_code(const json& job) {
  std::string st = str(job, "status");
  if (st == "failed") return kExitFailed;
  if (st == "cancelled") return kExitCancelled;
  return kExitOk;
}

}  // namespace

std::function<int()> register_client_commands(CLI::App& app) {
  auto chosen = std::make_shared<std::function<int()>>();
  auto common = std::make_shared<Common>();
  auto set = [chosen](CLI::App* cmd, std::function<int()> fn) {
    cmd->callback([chosen, fn] { *chosen = fn; });
  };
  auto client = [common] {
    return std::make_shared<ApiClient>(Connection{common->url, common->api_key});
  };

  // ---- datasets ----
  CLI::App* datasets = app.add_subcommand("datasets", "Upload, list, inspect, download datasets");
  datasets->require_subcommand(1);

  struct Upload {
    std::string file, name, type = "embed-input", text_field, delimiter;
    std::vector<std::string> keep_fields, optional_fields;
    bool wait = false;
  };
  auto up = std::make_shared<Upload>();
  CLI::App* upload = datasets->add_subcommand("upload", "Upload a CSV / JSONL / text file");
  upload->add_option("file", up->file, "The file")->required()->check(CLI::ExistingFile);
  upload->add_option("--name", up->name, "Dataset name (default: the file name)");
  upload->add_option("--type", up->type, "Dataset type")->capture_default_str();
  upload->add_option("--keep-field", up->keep_fields, "Extra column to keep (repeatable)");
  upload->add_option("--optional-field", up->optional_fields,
                     "Extra column to keep when present (repeatable)");
  upload->add_option("--text-field", up->text_field,
                     "The column that holds the text, when it is not named `text`");
  upload->add_option("--csv-delimiter", up->delimiter, "One character (CSV files)");
  upload->add_flag("--wait", up->wait, "Wait until the dataset is validated");
  add_common(upload, *common);
  set(upload, [up, common, client] {
    auto api = client();
    Progress progress(common->json);
    std::string name = up->name.empty() ? fs::path(up->file).stem().string() : up->name;
    std::string q = "/v1/datasets?name=" + url_encode(name) + "&type=" + url_encode(up->type);
    for (const auto& f : up->keep_fields) q += "&keep_fields=" + url_encode(f);
    for (const auto& f : up->optional_fields) q += "&optional_fields=" + url_encode(f);
    if (!up->delimiter.empty()) q += "&csv_delimiter=" + url_encode(up->delimiter);
    std::string path = up->file;
    std::string tmp;
    if (!up->text_field.empty()) {
      tmp = (fs::temp_directory_path() / ("embedjobs-upload-" + std::to_string(getpid()) +
                                          fs::path(up->file).extension().string()))
                .string();
      rename_text_field(up->file, up->text_field, tmp);
      path = tmp;
    }
    json r;
    try {
      r = api->upload(q, "data", path, fs::path(up->file).filename().string());
    } catch (...) {
      if (!tmp.empty()) fs::remove(tmp);
      throw;
    }
    if (!tmp.empty()) fs::remove(tmp);
    std::string id = str(r, "id");
    if (up->wait) {
      json d = wait_dataset(*api, id, progress);
      progress.finish("dataset " + id + " validated: " + str(d, "total_rows") + " rows");
      if (common->json) print_json(d);
    } else if (common->json) {
      print_json(r);
    }
    if (!common->json) std::cout << id << "\n";
    return static_cast<int>(kExitOk);
  });

  auto type_filter = std::make_shared<std::string>();
  CLI::App* ds_list = datasets->add_subcommand("list", "List your datasets");
  ds_list->add_option("--type", *type_filter, "Only this dataset type");
  add_common(ds_list, *common);
  set(ds_list, [common, client, type_filter] {
    auto api = client();
    std::string q = "/v1/datasets?limit=1000";
    if (!type_filter->empty()) q += "&datasetType=" + url_encode(*type_filter);
    json r = api->get(q);
    if (common->json) {
      print_json(r);
      return static_cast<int>(kExitOk);
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& d : r.value("datasets", json::array())) {
      rows.push_back({str(d, "id"), str(d, "name"), str(d, "dataset_type"),
                      str(d, "validation_status"), str(d, "total_rows"), str(d, "created_at")});
    }
    print_table({"ID", "NAME", "TYPE", "STATUS", "ROWS", "CREATED"}, rows);
    return static_cast<int>(kExitOk);
  });

  auto ds_id = std::make_shared<std::string>();
  CLI::App* ds_get = datasets->add_subcommand("get", "Show one dataset (JSON)");
  ds_get->add_option("id", *ds_id, "Dataset id")->required();
  add_common(ds_get, *common);
  set(ds_get, [client, ds_id] {
    print_json(client()->get("/v1/datasets/" + url_encode(*ds_id))["dataset"]);
    return static_cast<int>(kExitOk);
  });

  CLI::App* ds_delete = datasets->add_subcommand("delete", "Delete a dataset and its files");
  ds_delete->add_option("id", *ds_id, "Dataset id")->required();
  add_common(ds_delete, *common);
  set(ds_delete, [common, client, ds_id] {
    client()->del("/v1/datasets/" + url_encode(*ds_id));
    if (common->json) {
      print_json({{"deleted", *ds_id}});
    } else {
      std::cerr << "deleted " << *ds_id << "\n";
    }
    return static_cast<int>(kExitOk);
  });

  struct Download {
    std::string out, format = "jsonl";
  };
  auto dl = std::make_shared<Download>();
  auto add_download_options = [dl](CLI::App* cmd) {
    cmd->add_option("-o,--output", dl->out, "Output file (default: <dataset name>.<format>)");
    cmd->add_option("--format", dl->format, "jsonl, csv, npy (float32 [rows, dims]) or avro")
        ->check(CLI::IsMember({"jsonl", "csv", "npy", "avro"}))
        ->capture_default_str();
  };
  CLI::App* ds_download = datasets->add_subcommand("download", "Download a dataset's rows");
  ds_download->add_option("id", *ds_id, "Dataset id")->required();
  add_download_options(ds_download);
  add_common(ds_download, *common);
  set(ds_download, [common, client, ds_id, dl] {
    auto api = client();
    return download_dataset(*api, *ds_id, dl->out, dl->format, common->json);
  });

  // ---- jobs ----
  CLI::App* jobs = app.add_subcommand("jobs", "Create, follow, cancel and download embed jobs");
  jobs->require_subcommand(1);
  struct Create {
    std::string dataset, model, input_type = "search_document", truncate, name;
    std::vector<std::string> embedding_types;
    bool follow = false;
  };
  auto cr = std::make_shared<Create>();
  CLI::App* create = jobs->add_subcommand("create", "Start an embed job over a dataset");
  create->add_option("--dataset", cr->dataset, "Input dataset id (embed-input)")->required();
  create->add_option("--model", cr->model, "Model name")->required();
  create
      ->add_option("--input-type", cr->input_type,
                   "search_document, search_query, classification or clustering")
      ->capture_default_str();
  create->add_option("--embedding-type", cr->embedding_types,
                     "float, int8, uint8, binary, ubinary (repeatable; default float)");
  create->add_option("--truncate", cr->truncate, "START, END or NONE");
  create->add_option("--name", cr->name, "Job name");
  create->add_flag("--follow", cr->follow, "Show progress until the job ends");
  add_common(create, *common);
  set(create, [cr, common, client] {
    auto api = client();
    json body = {{"model", cr->model}, {"dataset_id", cr->dataset}, {"input_type", cr->input_type}};
    if (!cr->embedding_types.empty()) body["embedding_types"] = cr->embedding_types;
    if (!cr->truncate.empty()) body["truncate"] = cr->truncate;
    if (!cr->name.empty()) body["name"] = cr->name;
    json r = api->post("/v1/embed-jobs", body);
    std::string id = str(r, "job_id");
    if (!cr->follow) {
      if (common->json) {
        print_json(r);
      } else {
        std::cout << id << "\n";
      }
      return static_cast<int>(kExitOk);
    }
    Progress progress(common->json);
    json job = follow_job(*api, id, progress);
    if (common->json) {
      print_json(job);
    } else {
      std::cout << id << "\n";
    }
    return job_exit_code(job);
  });

  CLI::App* jobs_list = jobs->add_subcommand("list", "List your embed jobs");
  add_common(jobs_list, *common);
  set(jobs_list, [common, client] {
    json r = client()->get("/v1/embed-jobs");
    if (common->json) {
      print_json(r);
      return static_cast<int>(kExitOk);
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& j : r.value("embed_jobs", json::array())) {
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.1f%%", j.value("percent_complete", 0.0));
      rows.push_back({str(j, "job_id"), str(j, "name"), str(j, "status"), str(j, "model"), pct,
                      str(j, "created_at")});
    }
    print_table({"ID", "NAME", "STATUS", "MODEL", "DONE", "CREATED"}, rows);
    return static_cast<int>(kExitOk);
  });

  auto job_id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  CLI::App* jobs_get = jobs->add_subcommand("get", "Show one job (JSON), or follow it");
  jobs_get->add_option("id", *job_id, "Job id")->required();
  jobs_get->add_flag("--follow", *follow, "Show progress until the job ends");
  add_common(jobs_get, *common);
  set(jobs_get, [common, client, job_id, follow] {
    auto api = client();
    if (!*follow) {
      print_json(api->get("/v1/embed-jobs/" + url_encode(*job_id)));
      return static_cast<int>(kExitOk);
    }
    Progress progress(common->json);
    json job = follow_job(*api, *job_id, progress);
    if (common->json) print_json(job);
    return job_exit_code(job);
  });

  CLI::App* jobs_cancel = jobs->add_subcommand("cancel", "Cancel a running job");
  jobs_cancel->add_option("id", *job_id, "Job id")->required();
  add_common(jobs_cancel, *common);
  set(jobs_cancel, [common, client, job_id] {
    auto api = client();
    api->post("/v1/embed-jobs/" + url_encode(*job_id) + "/cancel", json::object());
    json j = api->get("/v1/embed-jobs/" + url_encode(*job_id));
    if (common->json) {
      print_json(j);
    } else {
      std::cerr << "job " << *job_id << " is " << str(j, "status") << "\n";
    }
    return static_cast<int>(kExitOk);
  });

  CLI::App* jobs_download = jobs->add_subcommand("download", "Download a finished job's output");
  jobs_download->add_option("id", *job_id, "Job id")->required();
  add_download_options(jobs_download);
  add_common(jobs_download, *common);
  set(jobs_download, [common, client, job_id, dl] {
    auto api = client();
    json j = api->get("/v1/embed-jobs/" + url_encode(*job_id));
    std::string out_id = str(j, "output_dataset_id");
    if (out_id.empty()) {
      throw ClientError(
          kExitRefused, 0,
          "job " + *job_id + " is " + str(j, "status") + " and has no output dataset yet");
    }
    return download_dataset(*api, out_id, dl->out, dl->format, common->json);
  });

  // ---- embed ----
  struct Embed {
    std::vector<std::string> texts;
    std::string model, input_type = "search_query";
    std::vector<std::string> types;
  };
  auto em = std::make_shared<Embed>();
  CLI::App* embed = app.add_subcommand("embed", "Embed texts now (POST /v2/embed)");
  embed->add_option("texts", em->texts, "Texts to embed")->required();
  embed->add_option("--model", em->model, "Model name")->required();
  embed->add_option("--input-type", em->input_type, "search_query, search_document, ...")
      ->capture_default_str();
  embed->add_option("--embedding-type", em->types, "float (default), int8, ... (repeatable)");
  add_common(embed, *common);
  set(embed, [em, common, client] {
    json body = {{"model", em->model}, {"texts", em->texts}, {"input_type", em->input_type}};
    body["embedding_types"] = em->types.empty() ? std::vector<std::string>{"float"} : em->types;
    json r = client()->post("/v2/embed", body);
    if (common->json) {
      print_json(r);
      return static_cast<int>(kExitOk);
    }
    const json& by_type = r["embeddings"];
    for (auto it = by_type.begin(); it != by_type.end(); ++it) {
      for (size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        std::string head;
        for (size_t k = 0; k < v.size() && k < 6; ++k) head += (k ? ", " : "") + v[k].dump();
        std::cout << it.key() << "[" << i << "] (" << v.size() << " dims): [" << head
                  << (v.size() > 6 ? ", ...]" : "]") << "\n";
      }
    }
    return static_cast<int>(kExitOk);
  });

  register_batch_commands(app, common, set);

  return [chosen]() -> int {
    if (!*chosen) return -1;
    try {
      return (*chosen)();
    } catch (const ClientError& e) {
      std::cerr << "embedjobs: " << e.what();
      if (e.http_status) std::cerr << " (HTTP " << e.http_status << ")";
      std::cerr << "\n";
      return e.exit_code;
    } catch (const std::exception& e) {
      std::cerr << "embedjobs: " << e.what() << "\n";
      return kExitError;
    }
  };
}

}  // namespace ej::cli
