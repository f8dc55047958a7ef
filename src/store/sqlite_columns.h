// The columns of the SQLite tables that hold rows (datasets, jobs), each listed ONCE with how it
// is bound and read: the SELECT and INSERT statements, the binds and the reads all come from these
// tables, so adding a field is one line. Internal to the SQLite store. Stateless; thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace ej::store::sqlite {

// A prepared statement (RAII); bind() indexes from 1, column reads from 0.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, int64_t v);
  bool step();  // true while there is a row; throws ej::Error(kInternal) on an error
  std::string text(int col) const;
  int64_t i64(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Who writes a column: INSERT (from the row), or only the store's own UPDATEs; kInternal
// columns (leases) are not part of the row at all.
enum class ColumnRole { kInserted, kUpdated, kInternal };

template <typename Row>
struct Column {
  const char* name;
  const char* decl;  // SQL type and constraints, for CREATE TABLE
  ColumnRole role;
  std::function<void(Stmt&, int, const Row&)> bind;  // kInserted only
  std::function<void(const Stmt&, int, Row&)> read;  // all but kInternal
};

const std::vector<Column<DatasetRow>>& dataset_columns();
const std::vector<Column<JobRow>>& job_columns();

// "CREATE TABLE IF NOT EXISTS <table> (<name decl>, ...)"
template <typename Row>
std::string create_table_sql(const std::vector<Column<Row>>& cols, const char* table) {
  std::string sql = std::string("CREATE TABLE IF NOT EXISTS ") + table + " (";
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i > 0) sql += ", ";
    sql.append(cols[i].name).append(" ").append(cols[i].decl);
  }
  return sql + ")";
}

// "ALTER TABLE <table> ADD COLUMN ..." for each column `existing` lacks (a database made by an
// older version gains the new columns, with their defaults).
template <typename Row>
std::vector<std::string> add_missing_columns_sql(const std::vector<Column<Row>>& cols,
                                                 const char* table,
                                                 const std::vector<std::string>& existing) {
  std::vector<std::string> out;
  for (const auto& c : cols) {
    bool found = false;
    for (const auto& e : existing) found = found || e == c.name;
    if (!found) {
      out.push_back(std::string("ALTER TABLE ") + table + " ADD COLUMN " + c.name + " " + c.decl);
    }
  }
  return out;
}

// "SELECT <the row's columns> FROM <table> <rest>"
template <typename Row>
std::string select_sql(const std::vector<Column<Row>>& cols, const char* table,
                       const std::string& rest) {
  std::string names;
  for (const auto& c : cols) {
    if (c.role == ColumnRole::kInternal) continue;
    if (!names.empty()) names += ", ";
    names += c.name;
  }
  return "SELECT " + names + " FROM " + table + " " + rest;
}

// "INSERT INTO <table>(<inserted columns>) VALUES(?, ...)"
template <typename Row>
std::string insert_sql(const std::vector<Column<Row>>& cols, const char* table) {
  std::string names, marks;
  for (const auto& c : cols) {
    if (c.role != ColumnRole::kInserted) continue;
    if (!names.empty()) names += ", ";
    names += c.name;
    marks += marks.empty() ? "?" : ", ?";
  }
  return std::string("INSERT INTO ") + table + "(" + names + ") VALUES(" + marks + ")";
}

template <typename Row>
void bind_row(const std::vector<Column<Row>>& cols, Stmt& s, const Row& row) {
  int i = 1;
  for (const auto& c : cols) {
    if (c.role == ColumnRole::kInserted) c.bind(s, i++, row);
  }
}

// Reads a row selected by select_sql.
template <typename Row>
Row read_row(const std::vector<Column<Row>>& cols, const Stmt& s) {
  Row row;
  int i = 0;
  for (const auto& c : cols) {
    if (c.role != ColumnRole::kInternal) c.read(s, i++, row);
  }
  return row;
}

// The job status stored as text; throws ej::Error(kInternal) naming the job when it is not one.
JobStatus job_status_from_column(const std::string& job_id, const std::string& text);

}  // namespace ej::store::sqlite
