#include "cli/client_batches.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/exit_codes.h"
#include "cli/progress.h"

namespace ej::cli {

namespace {

using nlohmann::json;

// Create and get answer {"batch": {...}}.
json unwrap(const json& response) {
  return response.contains("batch") ? response["batch"] : response;
}

bool batch_running(const std::string& status) {
  return status == "BATCH_STATUS_QUEUED" || status == "BATCH_STATUS_IN_PROGRESS" ||
         status == "BATCH_STATUS_CANCELING" || status == "BATCH_STATUS_CANCELLING";
}

int batch_exit_code(const json& b) {
  std::string st = str(b, "status");
  if (st == "BATCH_STATUS_FAILED") return kExitFailed;
  if (st == "BATCH_STATUS_CANCELED" || st == "BATCH_STATUS_CANCELLED") return kExitCancelled;
  return kExitOk;
}

// Follows a batch to its end; returns the final batch.
json follow_batch(ApiClient& api, const std::string& id, Progress& progress) {
  for (;;) {
    json b = unwrap(api.get("/v2/batches/" + url_encode(id)));
    std::string st = str(b, "status");
    int64_t total = b.value("num_records", int64_t{0});
    int64_t done =
        b.value("num_successful_records", int64_t{0}) + b.value("num_failed_records", int64_t{0});
    if (!batch_running(st)) {
      progress.finish("batch " + id + " " + st + ": " + str(b, "num_successful_records") +
                      " records embedded, " + str(b, "num_failed_records") + " failed" +
                      (str(b, "output_dataset_id").empty()
                           ? std::string()
                           : ", output dataset " + str(b, "output_dataset_id")));
      return b;
    }
    progress.update(st == "BATCH_STATUS_QUEUED" ? "queued" : "embedding", done, total);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

void register_batch_commands(CLI::App& app, const std::shared_ptr<Common>& common,
                             const std::function<void(CLI::App*, std::function<int()>)>& set) {
  auto client = [common] {
    return std::make_shared<ApiClient>(Connection{common->url, common->api_key});
  };
  CLI::App* batches = app.add_subcommand("batches", "Cohere's Batches API (/v2/batches)");
  batches->require_subcommand(1);

  struct Create {
    std::string dataset, model, name;
    bool follow = false;
  };
  auto cr = std::make_shared<Create>();
  CLI::App* create =
      batches->add_subcommand("create", "Start a batch over a batch-embed-v2-input dataset");
  create->add_option("--dataset", cr->dataset, "Input dataset id")->required();
  create->add_option("--model", cr->model, "Model name")->required();
  create->add_option("--name", cr->name, "Batch name")->required();
  create->add_flag("--follow", cr->follow, "Show progress until the batch ends");
  add_common(create, *common);
  set(create, [cr, common, client] {
    auto api = client();
    json b = unwrap(
        api->post("/v2/batches",
                  {{"name", cr->name}, {"input_dataset_id", cr->dataset}, {"model", cr->model}}));
    std::string id = str(b, "id");
    if (cr->follow) {
      Progress progress(common->json);
      b = follow_batch(*api, id, progress);
    }
    if (common->json) {
      print_json(b);
    } else {
      std::cout << id << "\n";
    }
    return cr->follow ? batch_exit_code(b) : static_cast<int>(kExitOk);
  });

  auto order = std::make_shared<std::string>("created_at");
  CLI::App* list = batches->add_subcommand("list", "List your batches (every page)");
  list->add_option("--order-by", *order, "created_at or updated_at")->capture_default_str();
  add_common(list, *common);
  set(list, [common, client, order] {
    auto api = client();
    json all = json::array();
    std::string token;
    do {
      std::string q = "/v2/batches?page_size=1000&order_by=" + url_encode(*order);
      if (!token.empty()) q += "&page_token=" + url_encode(token);
      json page = api->get(q);
      for (const json& b : page.value("batches", json::array())) all.push_back(b);
      token = str(page, "next_page_token");
    } while (!token.empty());
    if (common->json) {
      print_json({{"batches", all}});
      return static_cast<int>(kExitOk);
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& b : all) {
      rows.push_back({str(b, "id"), str(b, "name"), str(b, "status"), str(b, "model"),
                      str(b, "num_successful_records") + "/" + str(b, "num_records"),
                      str(b, "created_at")});
    }
    print_table({"ID", "NAME", "STATUS", "MODEL", "RECORDS", "CREATED"}, rows);
    return static_cast<int>(kExitOk);
  });

  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  CLI::App* get = batches->add_subcommand("get", "Show one batch (JSON), or follow it");
  get->add_option("id", *id, "Batch id")->required();
  get->add_flag("--follow", *follow, "Show progress until the batch ends");
  add_common(get, *common);
  set(get, [common, client, id, follow] {
    auto api = client();
    if (!*follow) {
      print_json(unwrap(api->get("/v2/batches/" + url_encode(*id))));
      return static_cast<int>(kExitOk);
    }
    Progress progress(common->json);
    json b = follow_batch(*api, *id, progress);
    if (common->json) print_json(b);
    return batch_exit_code(b);
  });

  CLI::App* cancel = batches->add_subcommand("cancel", "Cancel a queued or running batch");
  cancel->add_option("id", *id, "Batch id")->required();
  add_common(cancel, *common);
  set(cancel, [common, client, id] {
    auto api = client();
    api->post("/v2/batches/" + url_encode(*id) + ":cancel", json::object());
    json b = unwrap(api->get("/v2/batches/" + url_encode(*id)));
    if (common->json) {
      print_json(b);
    } else {
      std::cerr << "batch " << *id << " is " << str(b, "status") << "\n";
    }
    return static_cast<int>(kExitOk);
  });

  struct Download {
    std::string out, format = "jsonl";
  };
  auto dl = std::make_shared<Download>();
  CLI::App* download = batches->add_subcommand("download", "Download a finished batch's output");
  download->add_option("id", *id, "Batch id")->required();
  download->add_option("-o,--output", dl->out, "Output file (default: <dataset name>.<format>)");
  download->add_option("--format", dl->format, "jsonl, csv or avro")
      ->check(CLI::IsMember({"jsonl", "csv", "avro"}))
      ->capture_default_str();
  add_common(download, *common);
  set(download, [common, client, id, dl] {
    auto api = client();
    json b = unwrap(api->get("/v2/batches/" + url_encode(*id)));
    std::string out_id = str(b, "output_dataset_id");
    if (out_id.empty()) {
      throw ClientError(kExitRefused, 0,
                        "batch " + *id + " is " + str(b, "status") + " and has no output yet");
    }
    return download_dataset(*api, out_id, dl->out, dl->format, common->json);
  });
}

}  // namespace ej::cli
