// Which store a URL names (open_store, migrate_store in store.h). Stateless; thread-safe.
#include <string_view>

#include "common/error.h"
#include "store/pg_connection.h"
#include "store/pg_schema.h"
#include "store/store.h"

namespace ej::store {

namespace {

enum class Kind { kSqlite, kPostgres };

struct Target {
  Kind kind;
  std::string where;  // the SQLite file, or the libpq URL
};

Target parse_store_url(const std::string& url, const std::string& default_sqlite_path) {
  if (url.empty()) return {Kind::kSqlite, default_sqlite_path};
  std::string_view u = url;
  if (u.substr(0, 7) == "sqlite:") {
    std::string_view path = u.substr(7);
    if (path.substr(0, 2) == "//") path = path.substr(2);  // sqlite:///abs/x.db, sqlite://x.db
    if (path.empty()) throw_invalid("--store sqlite:PATH needs a PATH (the database file)");
    return {Kind::kSqlite, std::string(path)};
  }
  if (u.substr(0, 11) == "postgres://" || u.substr(0, 13) == "postgresql://") {
    return {Kind::kPostgres, url};
  }
  // Not echoed whole: a URL may carry a password.
  throw_invalid(
      "--store must be sqlite:PATH or postgres://[user[:password]@]host[:port]/dbname, "
      "got '" +
      std::string(u.substr(0, u.find(':'))) + ":...'");
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& url, const std::string& default_sqlite_path) {
  Target t = parse_store_url(url, default_sqlite_path);
  if (t.kind == Kind::kSqlite) return open_sqlite_store(t.where);
  return open_postgres_store(t.where);
}

std::string migrate_store(const std::string& url, const std::string& default_sqlite_path) {
  Target t = parse_store_url(url, default_sqlite_path);
  if (t.kind == Kind::kSqlite) {
    open_sqlite_store(t.where);  // creates the tables, adds the columns an older version lacks
    return "sqlite " + t.where + ": schema up to date";
  }
  pg::Connection c(t.where);
  pg::SchemaVersions v = pg::migrate(c);
  if (v.before == v.after) {
    return "postgres: schema up to date (version " + std::to_string(v.after) + ")";
  }
  return "postgres: schema migrated from version " + std::to_string(v.before) + " to " +
         std::to_string(v.after);
}

}  // namespace ej::store
