#include "blacklist/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace sscard::blacklist {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL, expires INTEGER NOT NULL, feed_time INTEGER NOT NULL,
    fetched INTEGER NOT NULL, checked INTEGER NOT NULL, count INTEGER NOT NULL,
    digest TEXT NOT NULL, key_ids TEXT NOT NULL, etag TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES (1, 0, 0, 0, 0, 0, 0, '', '', '');
CREATE TABLE IF NOT EXISTS by_id(
    hi INTEGER NOT NULL, lo INTEGER NOT NULL, region INTEGER NOT NULL, number INTEGER NOT NULL,
    state INTEGER NOT NULL, eff INTEGER NOT NULL, exp INTEGER, repl INTEGER,
    PRIMARY KEY (hi, lo)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS by_number(
    region INTEGER NOT NULL, number INTEGER NOT NULL,
    state INTEGER NOT NULL, eff INTEGER NOT NULL, exp INTEGER, repl INTEGER,
    PRIMARY KEY (region, number)) WITHOUT ROWID;
)sql";

struct Stmt {
    sqlite3_stmt* s = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
    void reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    void resetKeepBindings() { sqlite3_reset(s); }
};

void bindOpt(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
    if (v)
        sqlite3_bind_int64(s, i, *v);
    else
        sqlite3_bind_null(s, i);
}
std::optional<std::int64_t> colOpt(sqlite3_stmt* s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(s, i);
}

std::string joinIds(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
    return out;
}

}  // namespace

struct Store::Statements {
    Stmt get_id, get_card, get_num, ins_id, ins_num, del_id, del_num;
};

Error Store::dbError(const std::string& what) const {
    return makeError(ErrorCode::list_unavailable,
                     what + ": " + (db_ ? sqlite3_errmsg(db_) : "cannot open database"));
}

Expected<void, Error> Store::exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "error";
        sqlite3_free(msg);
        return unexpected(
            makeError(ErrorCode::list_unavailable, std::string("list database: ") + m));
    }
    return {};
}

Expected<Store, Error> Store::open(const std::filesystem::path& path, bool read_only) {
    Store s;
    s.st_ = std::make_unique<Statements>();
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path.c_str(), &s.db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        return unexpected(s.dbError(path.string()));
    }
    sqlite3_busy_timeout(s.db_, 5000);
    (void)s.exec("PRAGMA cache_size=-16384");
    if (!read_only) {
        auto r = s.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        if (!r) return unexpected(r.error());
        r = s.exec(kSchema);
        if (!r) return unexpected(r.error());
    }
    auto prep = [&](Stmt& st, const char* sql) {
        return sqlite3_prepare_v3(s.db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st.s, nullptr) ==
               SQLITE_OK;
    };
    bool ok =
        prep(s.st_->get_id,
             "SELECT region, number, state, eff, exp, repl FROM by_id WHERE hi=?1 AND lo=?2") &&
        prep(s.st_->get_card,
             "SELECT 0, region, number, state, eff, exp, repl FROM by_id WHERE hi=?1 AND lo=?2 "
             "UNION ALL "
             "SELECT 1, region, number, state, eff, exp, repl FROM by_number "
             "WHERE region=?3 AND number=?4") &&
        prep(s.st_->get_num,
             "SELECT state, eff, exp, repl FROM by_number WHERE region=?1 AND number=?2");
    if (!read_only) {
        ok = ok &&
             prep(s.st_->ins_id, "INSERT INTO by_id VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)") &&
             prep(s.st_->ins_num, "INSERT INTO by_number VALUES (?1, ?2, ?3, ?4, ?5, ?6)") &&
             prep(s.st_->del_id, "DELETE FROM by_id WHERE hi=?1 AND lo=?2") &&
             prep(s.st_->del_num, "DELETE FROM by_number WHERE region=?1 AND number=?2");
    }
    if (!ok) return unexpected(s.dbError(path.string()));
    return s;
}

Store::Store(Store&& o) noexcept : db_(std::exchange(o.db_, nullptr)), st_(std::move(o.st_)) {}
Store& Store::operator=(Store&& o) noexcept {
    if (this != &o) {
        st_.reset();
        sqlite3_close(db_);
        db_ = std::exchange(o.db_, nullptr);
        st_ = std::move(o.st_);
    }
    return *this;
}
Store::~Store() {
    st_.reset();
    if (db_) sqlite3_close(db_);
}

Expected<std::optional<Entry>, Error> Store::lookupCardId(std::string_view card_id) {
    auto k = encodeCardId(card_id);
    if (!k) return std::optional<Entry>{};
    sqlite3_stmt* s = st_->get_id.s;
    sqlite3_bind_int64(s, 1, k->hi);
    sqlite3_bind_int64(s, 2, k->lo);
    int rc = sqlite3_step(s);
    std::optional<Entry> out;
    if (rc == SQLITE_ROW) {
        Record r;
        r.has_id = true;
        r.id = *k;
        r.region = sqlite3_column_int64(s, 0);
        r.number = sqlite3_column_int64(s, 1);
        r.state = static_cast<State>(sqlite3_column_int(s, 2) & 3);
        r.effective_at = sqlite3_column_int64(s, 3);
        r.expires_at = colOpt(s, 4);
        r.replaced_by = colOpt(s, 5);
        out = toEntry(r);
    }
    st_->get_id.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(dbError("list lookup"));
    return out;
}

Expected<bool, Error> Store::containsId(IdKey k) {
    sqlite3_stmt* s = st_->get_id.s;
    sqlite3_bind_int64(s, 1, k.hi);
    sqlite3_bind_int64(s, 2, k.lo);
    int rc = sqlite3_step(s);
    st_->get_id.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(dbError("list lookup"));
    return rc == SQLITE_ROW;
}

Expected<std::optional<Entry>, Error> Store::lookupNumber(std::string_view region,
                                                          std::string_view card_number) {
    auto k = encodeNumberKey(region, card_number);
    if (!k) return std::optional<Entry>{};
    sqlite3_stmt* s = st_->get_num.s;
    sqlite3_bind_int64(s, 1, k->region);
    sqlite3_bind_int64(s, 2, k->number);
    int rc = sqlite3_step(s);
    std::optional<Entry> out;
    if (rc == SQLITE_ROW) {
        Record r;
        r.region = k->region;
        r.number = k->number;
        r.state = static_cast<State>(sqlite3_column_int(s, 0) & 3);
        r.effective_at = sqlite3_column_int64(s, 1);
        r.expires_at = colOpt(s, 2);
        r.replaced_by = colOpt(s, 3);
        out = toEntry(r);
    }
    st_->get_num.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(dbError("list lookup"));
    return out;
}

Expected<std::vector<Entry>, Error> Store::lookup(const CardFacts& card) {
    // One statement (one read transaction) for both keys: the card_id entry first.
    std::vector<Entry> out;
    std::optional<IdKey> id = card.card_id ? encodeCardId(*card.card_id) : std::nullopt;
    auto num = encodeNumberKey(card.region, card.card_number);
    if (!id && !num) return out;
    sqlite3_stmt* s = st_->get_card.s;
    if (id) {
        sqlite3_bind_int64(s, 1, id->hi);
        sqlite3_bind_int64(s, 2, id->lo);
    }  // else NULL: matches nothing
    if (num) {
        sqlite3_bind_int64(s, 3, num->region);
        sqlite3_bind_int64(s, 4, num->number);
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        Record r;
        r.has_id = sqlite3_column_int(s, 0) == 0;
        if (r.has_id) r.id = *id;
        r.region = sqlite3_column_int64(s, 1);
        r.number = sqlite3_column_int64(s, 2);
        r.state = static_cast<State>(sqlite3_column_int(s, 3) & 3);
        r.effective_at = sqlite3_column_int64(s, 4);
        r.expires_at = colOpt(s, 5);
        r.replaced_by = colOpt(s, 6);
        out.push_back(toEntry(r));
    }
    st_->get_card.reset();
    if (rc != SQLITE_DONE) return unexpected(dbError("list lookup"));
    return out;
}

Expected<ListMeta, Error> Store::status() {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT version, expires, feed_time, fetched, checked, count, digest, "
                           "key_ids, etag FROM meta WHERE id=1",
                           -1, &s, nullptr) != SQLITE_OK) {
        return unexpected(dbError("list status"));
    }
    ListMeta m;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        m.version = sqlite3_column_int64(s, 0);
        m.expires = sqlite3_column_int64(s, 1);
        m.feed_time = sqlite3_column_int64(s, 2);
        m.fetched = sqlite3_column_int64(s, 3);
        m.checked = sqlite3_column_int64(s, 4);
        m.count = sqlite3_column_int64(s, 5);
        auto text = [&](int i) {
            const unsigned char* t = sqlite3_column_text(s, i);
            return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
        };
        m.digest = text(6);
        std::string ids = text(7);
        for (std::size_t p = 0; !ids.empty() && p <= ids.size();) {
            std::size_t c = ids.find(',', p);
            if (c == std::string::npos) c = ids.size();
            m.key_ids.push_back(ids.substr(p, c - p));
            p = c + 1;
        }
        m.etag = text(8);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return unexpected(dbError("list status"));
    return m;
}

Expected<void, Error> Store::touch(std::int64_t now, const std::string& etag) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "UPDATE meta SET checked=MAX(checked, ?1), etag=?2 WHERE id=1", -1,
                           &s, nullptr) != SQLITE_OK) {
        return unexpected(dbError("list update"));
    }
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, etag.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return unexpected(dbError("list update"));
    return {};
}

Expected<void, Error> Store::applyFile(const Decoder& run, const VersionInfo& info, bool delta) {
    // Room for the pages a delta dirties (random upserts into a 10 M-row tree: about one page per
    // change), released again afterwards; without it SQLite spills and re-reads pages. A snapshot
    // appends in key order and needs no more than the default.
    if (delta) (void)exec("PRAGMA cache_size=-65536");
    struct CacheBack {
        Store* s;
        ~CacheBack() { (void)s->exec("PRAGMA cache_size=-16384"); }
    } cache_back{this};
    auto b = exec("BEGIN IMMEDIATE");
    if (!b) return b;
    auto fail = [&](Error e) -> Expected<void, Error> {
        (void)exec("ROLLBACK");
        return unexpected(std::move(e));
    };
    auto meta = status();
    if (!meta) return fail(meta.error());
    if (info.version <= meta->version) {
        return fail(makeError(ErrorCode::feed_rejected, "version " + std::to_string(info.version) +
                                                            " is not above the stored version " +
                                                            std::to_string(meta->version)));
    }
    std::int64_t count = delta ? meta->count : 0;
    if (!delta) {
        auto r = exec("DELETE FROM by_id; DELETE FROM by_number;");
        if (!r) return fail(r.error());
    }
    DecodeSink sink;
    sink.header = [&](const FileHeader& h) -> Expected<void, Error> {
        if (h.version != info.version) {
            return unexpected(makeError(ErrorCode::feed_rejected, "file of another version"));
        }
        if ((h.kind == FileKind::delta) != delta) {
            return unexpected(makeError(ErrorCode::feed_rejected, "wrong file kind"));
        }
        if (delta && h.base_version != meta->version) {
            return unexpected(makeError(ErrorCode::feed_rejected,
                                        "delta from another version than the stored one"));
        }
        return {};
    };
    sink.removal = [&](const Record& r) -> Expected<void, Error> {
        Stmt& st = r.has_id ? st_->del_id : st_->del_num;
        sqlite3_bind_int64(st.s, 1, r.has_id ? r.id.hi : r.region);
        sqlite3_bind_int64(st.s, 2, r.has_id ? r.id.lo : r.number);
        int rc = sqlite3_step(st.s);
        st.resetKeepBindings();
        if (rc != SQLITE_DONE) return unexpected(dbError("list delete"));
        if (sqlite3_changes(db_) != 1) {
            return unexpected(makeError(ErrorCode::feed_rejected, "delta removes a missing entry"));
        }
        --count;
        return {};
    };
    sink.upsert = [&](const Record& r) -> Expected<void, Error> {
        Stmt& st = r.has_id ? st_->ins_id : st_->ins_num;
        int i = 1;
        if (r.has_id) {
            sqlite3_bind_int64(st.s, i++, r.id.hi);
            sqlite3_bind_int64(st.s, i++, r.id.lo);
        }
        sqlite3_bind_int64(st.s, i++, r.region);
        sqlite3_bind_int64(st.s, i++, r.number);
        sqlite3_bind_int(st.s, i++, static_cast<int>(r.state));
        sqlite3_bind_int64(st.s, i++, r.effective_at);
        bindOpt(st.s, i++, r.expires_at);
        bindOpt(st.s, i++, r.replaced_by);
        int rc = sqlite3_step(st.s);
        st.resetKeepBindings();
        if (rc == SQLITE_CONSTRAINT) {
            return unexpected(makeError(ErrorCode::feed_rejected, "list adds an existing entry"));
        }
        if (rc != SQLITE_DONE) return unexpected(dbError("list insert"));
        ++count;
        return {};
    };
    auto h = run(sink);
    if (!h) return fail(h.error());
    if (count != static_cast<std::int64_t>(info.count)) {
        return fail(makeError(ErrorCode::feed_rejected,
                              "entry count " + std::to_string(count) + " differs from the " +
                                  std::to_string(info.count) + " the manifest names"));
    }
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "UPDATE meta SET version=?1, expires=?2, feed_time=MAX(feed_time, ?3), "
                           "fetched=?4, checked=?4, count=?5, digest=?6, key_ids=?7, etag=?8 "
                           "WHERE id=1",
                           -1, &s, nullptr) != SQLITE_OK) {
        return fail(dbError("list meta"));
    }
    sqlite3_bind_int64(s, 1, info.version);
    sqlite3_bind_int64(s, 2, info.expires);
    sqlite3_bind_int64(s, 3, info.feed_time);
    sqlite3_bind_int64(s, 4, info.now);
    sqlite3_bind_int64(s, 5, count);
    sqlite3_bind_text(s, 6, info.digest.c_str(), -1, SQLITE_TRANSIENT);
    std::string ids = joinIds(info.key_ids);
    sqlite3_bind_text(s, 7, ids.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, info.etag.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return fail(dbError("list meta"));
    auto c = exec("COMMIT");
    if (!c) return fail(c.error());
    // A snapshot rewrites every page: give the WAL back to the file system (best effort; readers
    // may keep it from truncating, which is harmless).
    if (!delta) (void)exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return {};
}

Expected<void, Error> Store::applySnapshotFile(const std::filesystem::path& file,
                                               const VersionInfo& info) {
    return applyFile([&](const DecodeSink& s) { return decodeFile(file, s); }, info, false);
}
Expected<void, Error> Store::applySnapshot(ByteView file, const VersionInfo& info) {
    return applyFile([&](const DecodeSink& s) { return decode(file, s); }, info, false);
}
Expected<void, Error> Store::applyDeltaFile(const std::filesystem::path& file,
                                            const VersionInfo& info) {
    return applyFile([&](const DecodeSink& s) { return decodeFile(file, s); }, info, true);
}
Expected<void, Error> Store::applyDelta(ByteView file, const VersionInfo& info) {
    return applyFile([&](const DecodeSink& s) { return decode(file, s); }, info, true);
}

Expected<void, Error> Store::applyRecords(const std::vector<Record>& sorted,
                                          const VersionInfo& info) {
    return applyFile(
        [&](const DecodeSink& s) -> Expected<FileHeader, Error> {
            FileHeader h;
            h.version = info.version;
            h.upserts = sorted.size();
            auto r = s.header(h);
            if (!r) return unexpected(r.error());
            for (const auto& rec : sorted) {
                auto u = s.upsert(rec);
                if (!u) return unexpected(u.error());
            }
            return h;
        },
        info, false);
}

Expected<void, Error> Store::setMmapSize(std::int64_t bytes) {
    std::string sql = "PRAGMA mmap_size=" + std::to_string(std::max<std::int64_t>(0, bytes));
    return exec(sql.c_str());
}

Expected<std::int64_t, Error> Store::countRows() {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT (SELECT count(*) FROM by_id) + (SELECT count(*) FROM by_number)",
                           -1, &s, nullptr) != SQLITE_OK) {
        return unexpected(dbError("count"));
    }
    std::int64_t n = -1;
    if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (n < 0) return unexpected(dbError("count"));
    return n;
}

Expected<void, Error> Store::integrityCheck() {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA integrity_check", -1, &s, nullptr) != SQLITE_OK) {
        return unexpected(dbError("integrity_check"));
    }
    std::string findings;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        std::string line = t ? reinterpret_cast<const char*>(t) : "";
        if (line != "ok") findings += line + "\n";
    }
    sqlite3_finalize(s);
    if (!findings.empty()) {
        return unexpected(makeError(ErrorCode::list_unavailable, "integrity_check: " + findings));
    }
    return {};
}

}  // namespace sscard::blacklist
