#include "store/row_columns.h"

#include "common/error.h"

namespace ej::store {

namespace {

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorCode::kInternal, "store: unreadable row: " + what);
}

constexpr ColumnRole kIns = ColumnRole::kInserted;
constexpr ColumnRole kUpd = ColumnRole::kUpdated;

template <typename Row>
Column<Row> text_column(const char* name, const char* decl, std::string Row::*field,
                        ColumnRole role = kIns) {
  return {name, decl, role, [field](ParamSink& s, int i, const Row& r) { s.put_text(i, r.*field); },
          [field](const FieldSource& s, int i, Row& r) { r.*field = s.text(i); }};
}

template <typename Row>
Column<Row> int_column(const char* name, const char* decl, int64_t Row::*field,
                       ColumnRole role = kIns) {
  return {name, decl, role, [field](ParamSink& s, int i, const Row& r) { s.put_int(i, r.*field); },
          [field](const FieldSource& s, int i, Row& r) { r.*field = s.i64(i); }};
}

template <typename Row>
Column<Row> json_column(const char* name, const char* decl, nlohmann::json Row::*field) {
  return {name, decl, kIns,
          [field](ParamSink& s, int i, const Row& r) { s.put_text(i, (r.*field).dump()); },
          [field](const FieldSource& s, int i, Row& r) {
            r.*field = nlohmann::json::parse(s.text(i), nullptr, false);
          }};
}

// Every claimable table (datasets for validation, jobs for runs) ends with its lease.
template <typename Row>
std::vector<Column<Row>> with_lease(std::vector<Column<Row>> cols) {
  cols.push_back({"lease_owner", "TEXT NOT NULL DEFAULT ''", ColumnRole::kInternal, {}, {}});
  cols.push_back({"lease_until_ms", "INTEGER NOT NULL DEFAULT 0", ColumnRole::kInternal, {}, {}});
  cols.push_back(int_column<Row>("attempts", "INTEGER NOT NULL DEFAULT 0", &Row::attempts, kUpd));
  return cols;
}

constexpr const char* kText = "TEXT NOT NULL";
constexpr const char* kTextOrEmpty = "TEXT NOT NULL DEFAULT ''";
constexpr const char* kInt = "INTEGER NOT NULL";
constexpr const char* kIntOrZero = "INTEGER NOT NULL DEFAULT 0";

}  // namespace

JobStatus job_status_from_column(const std::string& job_id, const std::string& text) {
  std::optional<JobStatus> status = parse_job_status(text);
  if (!status) corrupt("job " + job_id + " has status '" + text + "'");
  return *status;
}

const std::vector<Column<DatasetRow>>& dataset_columns() {
  using R = DatasetRow;
  static const std::vector<Column<R>> cols = with_lease<R>({
      text_column<R>("id", "TEXT PRIMARY KEY", &R::id),
      text_column<R>("owner", kText, &R::owner),
      text_column<R>("name", kText, &R::name),
      text_column<R>("dataset_type", kText, &R::dataset_type),
      {"validation_status", kText, kIns,
       [](ParamSink& s, int i, const R& r) { s.put_text(i, std::string(status_name(r.status))); },
       [](const FieldSource& s, int i, R& r) {
         std::optional<DatasetStatus> st = parse_dataset_status(s.text(i));
         if (!st) corrupt("dataset " + r.id + " has validation_status '" + s.text(i) + "'");
         r.status = *st;
       }},
      text_column<R>("validation_error", kTextOrEmpty, &R::validation_error),
      int_column<R>("created_us", kInt, &R::created_us),
      int_column<R>("updated_us", kInt, &R::updated_us),
      int_column<R>("size_bytes", kIntOrZero, &R::size_bytes),
      int_column<R>("num_rows", kIntOrZero, &R::num_rows),
      json_column<R>("options", "TEXT NOT NULL DEFAULT '{}'", &R::options),
      json_column<R>("info", "TEXT NOT NULL DEFAULT '{}'", &R::info),
  });
  return cols;
}

const std::vector<Column<JobRow>>& job_columns() {
  using R = JobRow;
  static const std::vector<Column<R>> cols = with_lease<R>({
      text_column<R>("id", "TEXT PRIMARY KEY", &R::id),
      text_column<R>("owner", kText, &R::owner),
      text_column<R>("kind", "TEXT NOT NULL DEFAULT 'embed'", &R::kind),  // embed | batch
      text_column<R>("name", kTextOrEmpty, &R::name),
      {"status", kText, kIns,
       [](ParamSink& s, int i, const R& r) { s.put_text(i, std::string(status_name(r.status))); },
       [](const FieldSource& s, int i, R& r) {
         r.status = job_status_from_column(r.id, s.text(i));
       }},
      text_column<R>("input_dataset_id", kText, &R::input_dataset_id),
      text_column<R>("output_dataset_id", kTextOrEmpty, &R::output_dataset_id),
      text_column<R>("model", kText, &R::model),
      text_column<R>("input_type", kText, &R::input_type),
      text_column<R>("truncate", kText, &R::truncate),
      {"embedding_types", "TEXT NOT NULL DEFAULT '[]'", kIns,
       [](ParamSink& s, int i, const R& r) {
         s.put_text(i, nlohmann::json(r.embedding_types).dump());
       },
       [](const FieldSource& s, int i, R& r) {
         nlohmann::json types = nlohmann::json::parse(s.text(i), nullptr, false);
         r.embedding_types.clear();
         if (!types.is_array()) return;
         for (const auto& t : types) {
           if (t.is_string()) r.embedding_types.push_back(t.get<std::string>());
         }
       }},
      int_column<R>("created_us", kInt, &R::created_us),
      int_column<R>("updated_us", kInt, &R::updated_us),
      int_column<R>("total_rows", kIntOrZero, &R::total_rows),
      int_column<R>("rows_done", kIntOrZero, &R::rows_done, kUpd),
      int_column<R>("input_tokens", kIntOrZero, &R::input_tokens, kUpd),
      int_column<R>("cached_tokens", kIntOrZero, &R::cached_tokens, kUpd),
      text_column<R>("error", kTextOrEmpty, &R::error, kUpd),
      text_column<R>("model_identity", kTextOrEmpty, &R::model_identity),
      int_column<R>("lease_generation", kIntOrZero, &R::lease_generation, kUpd),
      int_column<R>("started_us", kIntOrZero, &R::started_us, kUpd),  // set by the first claim
      int_column<R>("chunk_rows", kIntOrZero, &R::chunk_rows),
      // How many of the job's chunks claim_chunk has handed out (chunks 0 .. chunks_issued-1).
      {"chunks_issued", kIntOrZero, ColumnRole::kInternal, {}, {}},
  });
  return cols;
}

}  // namespace ej::store
