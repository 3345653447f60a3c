// A thin RAII layer over SQLite: one connection (Db), its prepared statements (Stmt) and
// BEGIN IMMEDIATE transactions. Every error it reports carries the ErrorCode the connection was
// opened with, so each store keeps its own contract code (internal, list_unavailable, ...).
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace sscard::sqlite {

// How durable each commit is (PRAGMA synchronous, with journal_mode=WAL).
enum class Sync {
    normal,  // WAL not fsynced at commit: never corrupt, may lose the last commits on power loss
    full,    // WAL fsynced at every commit: a returned commit survives power loss
};

struct OpenOptions {
    bool read_only = false;   // else read-write, creating the file when missing
    std::optional<Sync> wal;  // switch to journal_mode=WAL (checked) with this synchronous level
    int busy_timeout_ms = 5000;
    std::optional<std::int64_t> mmap_size;  // PRAGMA mmap_size; unset: SQLite's default
    std::optional<int> cache_size_kib;      // PRAGMA cache_size=-N (best effort)
    bool extended_result_codes = false;     // step() then returns e.g. SQLITE_CONSTRAINT_UNIQUE
    ErrorCode error_code = ErrorCode::internal;  // the code of every Error of this connection
    std::string label = "SQLite";                // prefix of exec() failures
};

class Stmt;

class Db {
  public:
    static Expected<Db, Error> open(const std::filesystem::path& path, OpenOptions options);
    Db() = default;
    Db(Db&& o) noexcept;
    Db& operator=(Db&& o) noexcept;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db();

    Expected<void, Error> exec(const char* sql);
    // "PRAGMA name=value".
    Expected<void, Error> setPragma(std::string_view name, std::int64_t value);
    // A statement kept for reuse (SQLITE_PREPARE_PERSISTENT).
    Expected<Stmt, Error> prepare(const char* sql);
    // A module's statements, prepared in order into their slots; the first failure is returned.
    struct StatementSlot {
        Stmt* stmt;
        std::string sql;
    };
    Expected<void, Error> prepareAll(std::initializer_list<StatementSlot> slots);
    Error fail(std::string_view what) const;  // "<what>: <SQLite's message>" with our code
    std::int64_t changes() const;
    std::int64_t lastInsertRowid() const;

    // PRAGMA integrity_check: ok, or an error "<prefix><findings joined by separator>".
    Expected<void, Error> integrityCheck(std::string_view prefix = "corrupt: ",
                                         std::string_view separator = "; ");
    // The journal mode and synchronous level (0 off, 1 normal, 2 full, 3 extra) in effect.
    Expected<std::string, Error> journalMode();
    Expected<int, Error> synchronous();

    sqlite3* handle() const { return db_; }

  private:
    sqlite3* db_ = nullptr;
    ErrorCode code_ = ErrorCode::internal;
    std::string label_ = "SQLite";
};

// One prepared statement. step() returns SQLITE_ROW, SQLITE_DONE or an error code (<sqlite3.h>).
// Columns and parameters count as in SQLite: parameters from 1, columns from 0.
class Stmt {
  public:
    explicit Stmt(sqlite3_stmt* s = nullptr) : s_(s) {}
    Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt();

    bool valid() const { return s_ != nullptr; }

    Stmt& reset();   // ready to run again, every parameter back to NULL
    Stmt& rewind();  // ready to run again, keeping the bound parameters
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, std::string_view v);                      // copied (SQLITE_TRANSIENT)
    Stmt& bindBlob(int i, ByteView v);                          // copied
    Stmt& bindPair(int first, std::int64_t a, std::int64_t b);  // parameters first, first + 1
    Stmt& bindNull(int i);
    Stmt& bindOpt(int i, const std::optional<std::int64_t>& v);
    Stmt& bindText(int i, std::string_view v);  // NULL when empty

    int step();
    std::int64_t colInt(int i) const;
    std::optional<std::int64_t> colOptInt(int i) const;
    std::string colText(int i) const;  // "" for NULL
    // Valid until the next step()/reset() of this statement.
    std::string_view colTextView(int i) const;
    ByteView colBlob(int i) const;

  private:
    sqlite3_stmt* s_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless commit() succeeded.
class Transaction {
  public:
    explicit Transaction(Db& db) : db_(db) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    Expected<void, Error> begin();
    Expected<void, Error> commit();

  private:
    Db& db_;
    bool open_ = false;
};

}  // namespace sscard::sqlite
