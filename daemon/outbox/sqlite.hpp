// Internal to daemon/outbox: a thin RAII layer over one SQLite connection. Not a public header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "base/expected.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace sscard::outbox::detail {

// How durable each commit is (PRAGMA synchronous, with journal_mode=WAL).
enum class Sync {
    normal,  // WAL not fsynced at commit: never corrupt, may lose the last commits on power loss
    full,    // WAL fsynced at every commit: a returned commit survives power loss
};

class Stmt;

class Db {
  public:
    // Opens (creating if missing) with WAL, the given synchronous level and busy_timeout.
    static Expected<Db, Error> open(const std::filesystem::path& path, Sync sync,
                                    int busy_timeout_ms);
    Db() = default;
    Db(Db&& o) noexcept;
    Db& operator=(Db&& o) noexcept;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
    ~Db();

    Expected<void, Error> exec(const char* sql);
    Expected<Stmt, Error> prepare(const char* sql);
    Error fail(std::string_view what) const;  // internal error with SQLite's message
    std::int64_t changes() const;
    std::int64_t lastInsertRowid() const;

    // PRAGMA integrity_check: ok, or an error with SQLite's findings.
    Expected<void, Error> integrityCheck();
    // The journal mode and synchronous level (0 off, 1 normal, 2 full, 3 extra) in effect.
    Expected<std::string, Error> journalMode();
    Expected<int, Error> synchronous();

    sqlite3* handle() const { return db_; }

  private:
    sqlite3* db_ = nullptr;
};

// One prepared statement; reset on each use.
class Stmt {
  public:
    explicit Stmt(sqlite3_stmt* s = nullptr) : s_(s) {}
    Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt();

    Stmt& reset();
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, std::string_view v);  // copied (SQLITE_TRANSIENT)
    Stmt& bindNull(int i);
    Stmt& bindOpt(int i, const std::optional<std::int64_t>& v);
    Stmt& bindText(int i, std::string_view v);  // NULL when empty

    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step();
    std::int64_t colInt(int i) const;
    std::optional<std::int64_t> colOptInt(int i) const;
    std::string colText(int i) const;  // "" for NULL

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

}  // namespace sscard::outbox::detail
