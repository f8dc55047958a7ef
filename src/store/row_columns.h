// The columns of the tables that hold rows (datasets, jobs), each listed ONCE with how it is
// bound and read, for every SQL store (SQLite, PostgreSQL): the SELECT and INSERT statements, the
// binds and the reads all come from these lists, so adding a field is one line here (plus, for
// PostgreSQL, a migration in pg_schema.cpp). A store reaches its driver through ParamSink and
// FieldSource. Internal to the stores. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace ej::store {

// Where a row's values go: the parameters of a statement, numbered from 1.
class ParamSink {
 public:
  virtual ~ParamSink() = default;
  virtual void put_text(int i, const std::string& v) = 0;
  virtual void put_int(int i, int64_t v) = 0;
};

// Where a row's values come from: the columns of a result row, numbered from 0.
class FieldSource {
 public:
  virtual ~FieldSource() = default;
  virtual std::string text(int col) const = 0;
  virtual int64_t i64(int col) const = 0;
};

// Who writes a column: INSERT (from the row), or only the store's own UPDATEs; kInternal
// columns (leases) are not part of the row at all.
enum class ColumnRole { kInserted, kUpdated, kInternal };

template <typename Row>
struct Column {
  const char* name;
  const char* decl;  // SQLite type and constraints (sqlite_store.cpp makes its tables from them)
  ColumnRole role;
  std::function<void(ParamSink&, int, const Row&)> bind;    // kInserted only
  std::function<void(const FieldSource&, int, Row&)> read;  // all but kInternal
};

const std::vector<Column<DatasetRow>>& dataset_columns();
const std::vector<Column<JobRow>>& job_columns();

// How a statement names its parameters: SQLite's "?" or PostgreSQL's "$1, $2, ...".
enum class Placeholders { kQuestion, kDollar };

// "<the row's columns>", comma-separated (for a SELECT, or an UPDATE's RETURNING)
template <typename Row>
std::string column_names(const std::vector<Column<Row>>& cols) {
  std::string names;
  for (const auto& c : cols) {
    if (c.role == ColumnRole::kInternal) continue;
    if (!names.empty()) names += ", ";
    names += c.name;
  }
  return names;
}

// "SELECT <the row's columns> FROM <table> <rest>"
template <typename Row>
std::string select_sql(const std::vector<Column<Row>>& cols, const char* table,
                       const std::string& rest) {
  return "SELECT " + column_names(cols) + " FROM " + table + " " + rest;
}

// "INSERT INTO <table>(<inserted columns>) VALUES(?, ...)" (or $1, ...)
template <typename Row>
std::string insert_sql(const std::vector<Column<Row>>& cols, const char* table,
                       Placeholders style = Placeholders::kQuestion) {
  std::string names, marks;
  int n = 0;
  for (const auto& c : cols) {
    if (c.role != ColumnRole::kInserted) continue;
    if (n++ > 0) {
      names += ", ";
      marks += ", ";
    }
    names += c.name;
    marks += style == Placeholders::kQuestion ? std::string("?") : "$" + std::to_string(n);
  }
  return std::string("INSERT INTO ") + table + "(" + names + ") VALUES(" + marks + ")";
}

// Binds the inserted columns as parameters 1, 2, ... (in insert_sql's order).
template <typename Row>
void bind_row(const std::vector<Column<Row>>& cols, ParamSink& s, const Row& row) {
  int i = 1;
  for (const auto& c : cols) {
    if (c.role == ColumnRole::kInserted) c.bind(s, i++, row);
  }
}

// Reads a row selected by select_sql.
template <typename Row>
Row read_row(const std::vector<Column<Row>>& cols, const FieldSource& s) {
  Row row;
  int i = 0;
  for (const auto& c : cols) {
    if (c.role != ColumnRole::kInternal) c.read(s, i++, row);
  }
  return row;
}

// ceil(total_rows / chunk_rows) of the jobs row named `table` (store.h chunk_count), in SQL that
// SQLite and PostgreSQL both read (integer division).
inline std::string chunk_count_sql(const std::string& table) {
  return "(CASE WHEN " + table + ".chunk_rows > 0 THEN (" + table + ".total_rows + " + table +
         ".chunk_rows - 1) / " + table + ".chunk_rows ELSE 0 END)";
}

// The job status stored as text; throws ej::Error(kInternal) naming the job when it is not one.
JobStatus job_status_from_column(const std::string& job_id, const std::string& text);

}  // namespace ej::store
