#include "store/pg_idempotency.h"

#include "store/pg_schema.h"

namespace ej::store::pg {

IdempotencyClaim begin_idempotent(Connection& c, const std::string& owner, const std::string& key,
                                  const std::string& request_hash, const std::string& holder,
                                  int64_t in_flight_ms, int64_t ttl_ms) {
  Transaction tx(c);
  // The database's time, once for the whole transaction, and the sweep of up to 100 expired
  // records (SKIP LOCKED: two requests sweeping at once take different rows, never each other's).
  const int64_t now =
      c.exec(std::string("WITH t AS (SELECT ") + kNowMs +
             " AS now_ms), sweep AS (DELETE FROM idempotency_keys WHERE (owner, idem_key) IN "
             "(SELECT owner, idem_key FROM idempotency_keys WHERE expires_ms < (SELECT now_ms "
             "FROM t) LIMIT 100 FOR UPDATE SKIP LOCKED)) SELECT now_ms FROM t")
          .i64(0, 0);
  IdempotencyClaim out;
  // A live record is locked and judged; none (or a dead one) is replaced by ours. When another
  // request made a live record after our look (the upsert then finds it and changes nothing),
  // look again: it is committed by then (the upsert waited for it).
  for (int tries = 0; tries < 3; ++tries) {
    Result got = c.exec(
        "SELECT request_hash, state, in_flight_until_ms, status, body FROM idempotency_keys "
        "WHERE owner = $1 AND idem_key = $2 AND expires_ms >= $3::bigint FOR UPDATE",
        Params().add(owner).add(key).add(now));
    if (got.rows() > 0) {
      if (got.text(0, 0) != request_hash) {
        out.state = IdempotencyClaim::State::kMismatch;
        return out;  // (rolls back: only the sweep is lost, and it runs again next time)
      }
      if (got.text(0, 1) == "done") {
        out.state = IdempotencyClaim::State::kDone;
        out.status = static_cast<int>(got.i64(0, 3));
        out.body = got.text(0, 4);
        tx.commit();
        return out;
      }
      if (got.i64(0, 2) >= now) {
        out.state = IdempotencyClaim::State::kInFlight;
        tx.commit();
        return out;
      }
      // In flight under a lease that ran out: its holder died before answering. Run again.
    }
    Result put = c.exec(
        "INSERT INTO idempotency_keys(owner, idem_key, request_hash, state, holder, "
        "in_flight_until_ms, created_ms, expires_ms) VALUES($1, $2, $3, 'in_flight', $4, "
        "$5::bigint + $6::bigint, $5::bigint, $5::bigint + $7::bigint) "
        "ON CONFLICT (owner, idem_key) DO UPDATE SET request_hash = excluded.request_hash, "
        "state = 'in_flight', holder = excluded.holder, in_flight_until_ms = "
        "excluded.in_flight_until_ms, status = 0, body = '', created_ms = excluded.created_ms, "
        "expires_ms = excluded.expires_ms WHERE idempotency_keys.expires_ms < $5::bigint OR "
        "(idempotency_keys.state = 'in_flight' AND idempotency_keys.in_flight_until_ms < "
        "$5::bigint) RETURNING 1",
        Params()
            .add(owner)
            .add(key)
            .add(request_hash)
            .add(holder)
            .add(now)
            .add(in_flight_ms)
            .add(ttl_ms));
    if (put.rows() > 0) {
      tx.commit();
      out.state = IdempotencyClaim::State::kStarted;
      return out;
    }
  }
  // Three live records appeared and went between our looks: report it as in flight.
  tx.commit();
  out.state = IdempotencyClaim::State::kInFlight;
  return out;
}

void finish_idempotent(Connection& c, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body) {
  c.exec(
      "UPDATE idempotency_keys SET state = 'done', status = $1::bigint, body = $2, holder = '', "
      "in_flight_until_ms = 0 WHERE owner = $3 AND idem_key = $4 AND holder = $5 AND "
      "state = 'in_flight'",
      Params().add(static_cast<int64_t>(status)).add(body).add(owner).add(key).add(holder));
}

void abandon_idempotent(Connection& c, const std::string& owner, const std::string& key,
                        const std::string& holder) {
  c.exec(
      "DELETE FROM idempotency_keys WHERE owner = $1 AND idem_key = $2 AND holder = $3 AND "
      "state = 'in_flight'",
      Params().add(owner).add(key).add(holder));
}

}  // namespace ej::store::pg
