#include "store/pg_connection.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace ej::store::pg {

std::atomic<int64_t> Connection::sent_{0};

namespace {

void drop_notice(void*, const char*) {}

std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string Result::text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t Result::i64(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* v = PQgetvalue(r_.get(), row, col);
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0') {
    throw PgError(std::string("postgres: column ") + PQfname(r_.get(), col) +
                      " is not an integer: '" + v + "'",
                  "");
  }
  return static_cast<int64_t>(n);
}

int64_t Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

namespace {
const std::string& storable(const std::string& v) {
  if (v.find('\0') != std::string::npos) {
    throw PgError("a text value holds a NUL character, which the store cannot keep", "22P05",
                  ErrorCode::kInvalidArgument);
  }
  return v;
}
}  // namespace

Params& Params::add(const std::string& v) {
  values_.push_back(storable(v));
  return *this;
}

Params& Params::add(int64_t v) {
  values_.push_back(std::to_string(v));
  return *this;
}

void Params::put_text(int i, const std::string& v) {
  if (static_cast<int>(values_.size()) < i) values_.resize(static_cast<size_t>(i));
  values_[static_cast<size_t>(i - 1)] = storable(v);
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(v.c_str());
  return out;
}

Connection::Connection(const std::string& conninfo) : conn_(nullptr, &PQfinish) {
  // Keywords before dbname are defaults the conninfo overrides; those after it override it.
  const char* keys[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {"10", conninfo.c_str(), "embedjobs", nullptr};
  conn_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn_) throw PgError("postgres: out of memory connecting", "");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw PgError("postgres: cannot connect: " + trimmed(PQerrorMessage(conn_.get())), "");
  }
  PQsetNoticeProcessor(conn_.get(), &drop_notice, nullptr);
}

Result Connection::check(PGresult* r, const std::string& sql) {
  sent_.fetch_add(1, std::memory_order_relaxed);
  Result out(r);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return out;
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state && std::string_view(state) == "22021") {  // character_not_in_repertoire
    throw PgError("a text value is not valid UTF-8, which the store cannot keep", state,
                  ErrorCode::kInvalidArgument);
  }
  std::string msg = r ? trimmed(PQresultErrorMessage(r)) : "";
  if (msg.empty()) msg = trimmed(PQerrorMessage(conn_.get()));
  throw PgError("postgres: " + msg + " (in: " + sql.substr(0, 200) + ")", state ? state : "");
}

Result Connection::exec(const std::string& sql) {
  return check(PQexec(conn_.get(), sql.c_str()), sql);
}

Result Connection::exec(const std::string& sql, const Params& params) {
  std::vector<const char*> values = params.pointers();
  return check(PQexecParams(conn_.get(), sql.c_str(), params.size(), nullptr, values.data(),
                            nullptr, nullptr, 0),
               sql);
}

Transaction::Transaction(Connection& c) : c_(c) {
  c_.exec("BEGIN");
}

Transaction::~Transaction() {
  if (done_ || !c_.ok()) return;
  try {
    c_.exec("ROLLBACK");
  } catch (const std::exception&) {
    // The connection broke: the server rolled the transaction back itself.
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

Pool::Pool(std::string conninfo, int max_size)
    : conninfo_(std::move(conninfo)), max_size_(max_size < 1 ? 1 : max_size) {}

Pool::Borrowed::~Borrowed() {
  if (c_) pool_->give_back(std::move(c_));
}

Pool::Borrowed Pool::borrow() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [&] { return !idle_.empty() || open_ < max_size_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return Borrowed(this, std::move(c));
    }
    ++open_;  // a slot for the connection opened below, outside the lock
  }
  try {
    return Borrowed(this, std::make_unique<Connection>(conninfo_));
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  std::lock_guard<std::mutex> lock(mu_);
  // A broken connection, or one left inside a transaction, is closed, not reused.
  if (c->ok() && c->idle()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
  }
  freed_.notify_one();
}

std::string conninfo_with(const std::string& conninfo, const std::string& keyword,
                          const std::string& value) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? trimmed(err) : "out of memory";
    PQfreemem(err);
    throw PgError("postgres: bad connection string: " + msg, "");
  }
  auto quote = [](const std::string& v) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    return q + "'";
  };
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || keyword == o->keyword) continue;
    out += std::string(o->keyword) + "=" + quote(o->val) + " ";
  }
  PQconninfoFree(opts);
  return out + keyword + "=" + quote(value);
}

std::string quote_identifier(const std::string& name) {
  std::string q = "\"";
  for (char c : name) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace ej::store::pg
