#include "base/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace sscard::sqlite {

Expected<Db, Error> Db::open(const std::filesystem::path& path, OpenOptions options) {
    Db db;
    db.code_ = options.error_code;
    db.label_ = std::move(options.label);
    int flags =
        options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &db.db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        return unexpected(db.fail("cannot open " + path.string()));
    }
    if (options.extended_result_codes) sqlite3_extended_result_codes(db.db_, 1);
    sqlite3_busy_timeout(db.db_, options.busy_timeout_ms);
    if (options.cache_size_kib) (void)db.setPragma("cache_size", -*options.cache_size_kib);
    if (options.wal) {
        // journal_mode=WAL is persistent in the file; it may need the lock, which busy_timeout
        // covers.
        auto s = db.prepare("PRAGMA journal_mode=WAL");
        if (!s) return unexpected(s.error());
        if (s->step() != SQLITE_ROW || s->colTextView(0) != "wal") {
            return unexpected(db.fail("cannot switch " + path.string() + " to WAL"));
        }
        auto r = db.exec(*options.wal == Sync::full ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
        if (!r) return unexpected(r.error());
    }
    if (options.mmap_size) {
        auto r = db.setPragma("mmap_size", *options.mmap_size);
        if (!r) return unexpected(r.error());
    }
    return db;
}

Db::Db(Db&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), code_(o.code_), label_(std::move(o.label_)) {}

Db& Db::operator=(Db&& o) noexcept {
    if (this != &o) {
        // close_v2: statements still alive keep the connection as a zombie until finalized.
        if (db_) sqlite3_close_v2(db_);
        db_ = std::exchange(o.db_, nullptr);
        code_ = o.code_;
        label_ = std::move(o.label_);
    }
    return *this;
}

Db::~Db() {
    if (db_) sqlite3_close_v2(db_);
}

Error Db::fail(std::string_view what) const {
    std::string msg(what);
    msg += ": ";
    msg += db_ ? sqlite3_errmsg(db_) : "out of memory";
    return makeError(code_, msg);
}

Expected<void, Error> Db::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        return unexpected(makeError(code_, label_ + ": " + msg));
    }
    return {};
}

Expected<void, Error> Db::setPragma(std::string_view name, std::int64_t value) {
    std::string sql = "PRAGMA ";
    sql += name;
    sql += '=';
    sql += std::to_string(value);
    return exec(sql.c_str());
}

Expected<Stmt, Error> Db::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        return unexpected(fail("SQLite prepare"));
    }
    return Stmt(s);
}

Expected<void, Error> Db::prepareAll(std::initializer_list<StatementSlot> slots) {
    for (const auto& slot : slots) {
        auto st = prepare(slot.sql.c_str());
        if (!st) return unexpected(st.error());
        *slot.stmt = std::move(*st);
    }
    return {};
}

std::int64_t Db::changes() const {
    return sqlite3_changes64(db_);
}

std::int64_t Db::lastInsertRowid() const {
    return sqlite3_last_insert_rowid(db_);
}

Expected<void, Error> Db::integrityCheck(std::string_view prefix, std::string_view separator) {
    auto s = prepare("PRAGMA integrity_check");
    if (!s) return unexpected(s.error());
    std::string found;
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) {
        std::string_view line = s->colTextView(0);
        if (line == "ok") continue;
        if (!found.empty()) found += separator;
        found += line;
    }
    if (rc != SQLITE_DONE) return unexpected(fail("integrity_check"));
    if (!found.empty()) return unexpected(makeError(code_, std::string(prefix) + found));
    return {};
}

Expected<std::string, Error> Db::journalMode() {
    auto s = prepare("PRAGMA journal_mode");
    if (!s) return unexpected(s.error());
    if (s->step() != SQLITE_ROW) return unexpected(fail("journal_mode"));
    return s->colText(0);
}

Expected<int, Error> Db::synchronous() {
    auto s = prepare("PRAGMA synchronous");
    if (!s) return unexpected(s.error());
    if (s->step() != SQLITE_ROW) return unexpected(fail("synchronous"));
    return static_cast<int>(s->colInt(0));
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
    if (this != &o) {
        sqlite3_finalize(s_);
        s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
}

Stmt::~Stmt() {
    sqlite3_finalize(s_);
}

Stmt& Stmt::reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return *this;
}

Stmt& Stmt::rewind() {
    sqlite3_reset(s_);
    return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
    sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
}

Stmt& Stmt::bindBlob(int i, ByteView v) {
    sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT);
    return *this;
}

Stmt& Stmt::bindPair(int first, std::int64_t a, std::int64_t b) {
    sqlite3_bind_int64(s_, first, a);
    sqlite3_bind_int64(s_, first + 1, b);
    return *this;
}

Stmt& Stmt::bindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
}

Stmt& Stmt::bindOpt(int i, const std::optional<std::int64_t>& v) {
    return v ? bind(i, *v) : bindNull(i);
}

Stmt& Stmt::bindText(int i, std::string_view v) {
    return v.empty() ? bindNull(i) : bind(i, v);
}

int Stmt::step() {
    return sqlite3_step(s_);
}

std::int64_t Stmt::colInt(int i) const {
    return sqlite3_column_int64(s_, i);
}

std::optional<std::int64_t> Stmt::colOptInt(int i) const {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(s_, i);
}

std::string Stmt::colText(int i) const {
    return std::string(colTextView(i));
}

std::string_view Stmt::colTextView(int i) const {
    const unsigned char* t = sqlite3_column_text(s_, i);
    if (!t) return {};
    return {reinterpret_cast<const char*>(t),
            static_cast<std::size_t>(sqlite3_column_bytes(s_, i))};
}

ByteView Stmt::colBlob(int i) const {
    const void* b = sqlite3_column_blob(s_, i);
    if (!b) return {};
    return {static_cast<const std::uint8_t*>(b),
            static_cast<std::size_t>(sqlite3_column_bytes(s_, i))};
}

Transaction::~Transaction() {
    if (open_) (void)db_.exec("ROLLBACK");
}

Expected<void, Error> Transaction::begin() {
    auto r = db_.exec("BEGIN IMMEDIATE");
    if (r) open_ = true;
    return r;
}

Expected<void, Error> Transaction::commit() {
    auto r = db_.exec("COMMIT");
    if (r) open_ = false;
    return r;
}

}  // namespace sscard::sqlite
