#include "store/sqlite_idempotency.h"

#include "common/clock.h"
#include "common/error.h"
#include "store/sqlite_columns.h"

namespace ej::store::sqlite {

const char* kIdempotencySchema = R"SQL(
-- Idempotency-Key records: state 'in_flight' (held by `holder` until in_flight_until_ms) or
-- 'done' (status + body replayed); swept after expires_ms.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  owner TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  holder TEXT NOT NULL DEFAULT '',
  in_flight_until_ms INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  body TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (owner, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys(expires_ms);
)SQL";

namespace {
// BEGIN IMMEDIATE ... COMMIT; rolls back if not committed.
class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) { run("BEGIN IMMEDIATE"); }
  ~Tx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw Error(ErrorCode::kInternal, std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
  }
  sqlite3* db_;
  bool done_ = false;
};
}  // namespace

IdempotencyClaim begin_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                                  const std::string& request_hash, const std::string& holder,
                                  int64_t in_flight_ms, int64_t ttl_ms) {
  Tx tx(db);
  const int64_t now = now_ms();
  Stmt sweep(db,
             "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys "
             "WHERE expires_ms < ? LIMIT 100)");
  sweep.bind(1, now).step();
  IdempotencyClaim out;
  Stmt get(db,
           "SELECT request_hash, state, in_flight_until_ms, status, body FROM idempotency_keys "
           "WHERE owner = ? AND idem_key = ? AND expires_ms >= ?");
  get.bind(1, owner).bind(2, key).bind(3, now);
  if (get.step()) {
    const bool done = get.text(1) == "done";
    if (get.text(0) != request_hash) {
      out.state = IdempotencyClaim::State::kMismatch;
      return out;  // (rolls back: only the sweep is lost, and it runs again next time)
    }
    if (done) {
      out.state = IdempotencyClaim::State::kDone;
      out.status = static_cast<int>(get.i64(3));
      out.body = get.text(4);
      tx.commit();
      return out;
    }
    if (get.i64(2) >= now) {
      out.state = IdempotencyClaim::State::kInFlight;
      tx.commit();
      return out;
    }
    // In flight under a lease that ran out: its holder died before answering. Run again.
  }
  Stmt put(db,
           "INSERT OR REPLACE INTO idempotency_keys(owner, idem_key, request_hash, state, "
           "holder, in_flight_until_ms, created_ms, expires_ms) "
           "VALUES(?, ?, ?, 'in_flight', ?, ?, ?, ?)");
  put.bind(1, owner)
      .bind(2, key)
      .bind(3, request_hash)
      .bind(4, holder)
      .bind(5, now + in_flight_ms)
      .bind(6, now)
      .bind(7, now + ttl_ms)
      .step();
  tx.commit();
  out.state = IdempotencyClaim::State::kStarted;
  return out;
}

void finish_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body) {
  Stmt upd(db,
           "UPDATE idempotency_keys SET state = 'done', status = ?, body = ?, holder = '', "
           "in_flight_until_ms = 0 WHERE owner = ? AND idem_key = ? AND holder = ? AND "
           "state = 'in_flight'");
  upd.bind(1, static_cast<int64_t>(status))
      .bind(2, body)
      .bind(3, owner)
      .bind(4, key)
      .bind(5, holder)
      .step();
}

void abandon_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                        const std::string& holder) {
  Stmt del(db,
           "DELETE FROM idempotency_keys WHERE owner = ? AND idem_key = ? AND holder = ? AND "
           "state = 'in_flight'");
  del.bind(1, owner).bind(2, key).bind(3, holder).step();
}

}  // namespace ej::store::sqlite
