// SQLite's side of the row columns (row_columns.h): a prepared statement that binds and reads
// them, and the tables made from their SQLite declarations (CREATE TABLE, and the ALTER TABLEs
// that give a database made by an older version the columns it lacks). Internal to the SQLite
// store. Stateless; thread-safe (a Stmt belongs to the caller holding the store's mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "store/row_columns.h"

namespace ej::store::sqlite {

// A prepared statement (RAII); bind() indexes from 1, column reads from 0.
class Stmt final : public ParamSink, public FieldSource {
 public:
  Stmt(sqlite3* db, const std::string& sql);
  ~Stmt() override;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, int64_t v);
  bool step();  // true while there is a row; throws ej::Error(kInternal) on an error
  std::string text(int col) const override;
  int64_t i64(int col) const override;

  void put_text(int i, const std::string& v) override { bind(i, v); }
  void put_int(int i, int64_t v) override { bind(i, v); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

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

}  // namespace ej::store::sqlite
