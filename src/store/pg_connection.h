// libpq, wrapped for the PostgreSQL stores (the metadata store, pg_store.cpp; a blob store may
// reuse it): a connection, a result, text parameters, a transaction (all RAII), and a pool of
// connections that threads borrow one at a time. Every failure throws ej::Error(kInternal)
// (a PgError, with the SQLSTATE), whose text is for the log (public_message hides it).
// Connection, Result, Params and Transaction belong to one thread at a time; Pool is
// thread-safe (any thread borrows; a borrowed connection is that thread's until it is returned).
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/row_columns.h"

namespace ej::store::pg {

// A failed statement or connection. sqlstate(): the five-character code ("40P01" deadlock,
// "23505" unique violation, ...); "" when the server sent none (the connection broke). The code
// is kInternal, but for text PostgreSQL cannot keep (not UTF-8, or holding a NUL character, which
// SQLite would store): kInvalidArgument, with a message that names no SQL.
class PgError : public Error {
 public:
  PgError(std::string message, std::string sqlstate, ErrorCode code = ErrorCode::kInternal)
      : Error(code, std::move(message)), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// The result of one statement (RAII over PGresult).
class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  int64_t i64(int row, int col) const;  // 0 for NULL; throws if the value is not an integer
  int64_t affected() const;             // rows an INSERT / UPDATE / DELETE touched

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// One row of a Result, read through row_columns.h's FieldSource.
class RowView final : public FieldSource {
 public:
  // Column 0 of the view is the result's column `first_col` (a row's columns after others).
  RowView(const Result& r, int row, int first_col = 0) : r_(r), row_(row), first_(first_col) {}
  std::string text(int col) const override { return r_.text(row_, first_ + col); }
  int64_t i64(int col) const override { return r_.i64(row_, first_ + col); }

 private:
  const Result& r_;
  int row_;
  int first_;
};

// A statement's parameters $1, $2, ... as text: the server infers each one's type from where it
// is used (cast it in the SQL, $3::bigint, where it cannot). A value holding a NUL character
// throws PgError(kInvalidArgument) rather than being cut short there.
class Params final : public ParamSink {
 public:
  Params() = default;
  Params& add(const std::string& v);
  Params& add(const char* v) { return add(std::string(v)); }
  Params& add(int64_t v);
  void put_text(int i, const std::string& v) override;
  void put_int(int i, int64_t v) override { put_text(i, std::to_string(v)); }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::string> values_;
};

// One connection (RAII over PGconn). Notices (NOTICE, WARNING) are dropped, not printed.
class Connection {
 public:
  // `conninfo`: a libpq URL (postgresql://...) or "key=value ..." string.
  explicit Connection(const std::string& conninfo);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (without parameters it may hold several statements; the last one's result).
  Result exec(const std::string& sql);
  Result exec(const std::string& sql, const Params& params);
  bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  bool idle() const { return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }  // no open tx
  // Statements sent by every Connection of this process (a round trip each): for measuring
  // what a piece of work costs the server.
  static int64_t statements_sent() { return sent_.load(std::memory_order_relaxed); }

 private:
  Result check(PGresult* r, const std::string& sql);
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
  static std::atomic<int64_t> sent_;
};

// BEGIN ... COMMIT on one connection; rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

// Connections to one server, opened on demand (at most max_size at once; a borrower waits for a
// free one beyond that) and kept for reuse; one that broke is closed when it comes back.
class Pool {
 public:
  Pool(std::string conninfo, int max_size);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A borrowed connection, returned to the pool when the Borrowed goes.
  class Borrowed {
   public:
    Borrowed(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Borrowed(Borrowed&&) = default;
    ~Borrowed();
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };
  Borrowed borrow();

 private:
  void give_back(std::unique_ptr<Connection> c);
  const std::string conninfo_;
  const int max_size_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + borrowed
};

// `conninfo` (URL or key=value) with `keyword` set to `value`, as a key=value string: e.g. the
// same server with another dbname. Throws PgError when `conninfo` does not parse.
std::string conninfo_with(const std::string& conninfo, const std::string& keyword,
                          const std::string& value);

// `name` quoted as an SQL identifier ("a""b").
std::string quote_identifier(const std::string& name);

}  // namespace ej::store::pg
