#include "blacklist/store.hpp"

#include <sqlite3.h>  // result codes

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

std::string joinIds(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
    return out;
}

}  // namespace

struct Store::Statements {
    sqlite::Stmt get_id, get_card, get_num, get_meta, any_in_region;
    sqlite::Stmt ins_id, ins_num, del_id, del_num, set_meta, touch;  // read-write only
};

Expected<Store, Error> Store::open(const std::filesystem::path& path, bool read_only) {
    Store s;
    s.st_ = std::make_unique<Statements>();
    sqlite::OpenOptions options;
    options.read_only = read_only;
    if (!read_only) options.wal = sqlite::Sync::normal;
    options.busy_timeout_ms = 5000;
    options.cache_size_kib = 16384;
    options.error_code = ErrorCode::list_unavailable;
    options.label = "list database";
    auto db = sqlite::Db::open(path, std::move(options));
    if (!db) return unexpected(db.error());
    s.db_ = std::move(*db);
    if (!read_only) {
        auto r = s.db_.exec(kSchema);
        if (!r) return unexpected(r.error());
    }
    struct {
        sqlite::Stmt* stmt;
        const char* sql;
        bool writes;
    } stmts[] = {
        {&s.st_->get_id,
         "SELECT region, number, state, eff, exp, repl FROM by_id WHERE hi=?1 AND lo=?2", false},
        {&s.st_->get_card,
         "SELECT 0, region, number, state, eff, exp, repl FROM by_id WHERE hi=?1 AND lo=?2 "
         "UNION ALL "
         "SELECT 1, region, number, state, eff, exp, repl FROM by_number "
         "WHERE region=?3 AND number=?4",
         false},
        {&s.st_->get_num,
         "SELECT state, eff, exp, repl FROM by_number WHERE region=?1 AND number=?2", false},
        {&s.st_->any_in_region, "SELECT 1 FROM by_number WHERE region=?1 LIMIT 1", false},
        {&s.st_->get_meta,
         "SELECT version, expires, feed_time, fetched, checked, count, digest, key_ids, etag "
         "FROM meta WHERE id=1",
         false},
        {&s.st_->ins_id, "INSERT INTO by_id VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", true},
        {&s.st_->ins_num, "INSERT INTO by_number VALUES (?1, ?2, ?3, ?4, ?5, ?6)", true},
        {&s.st_->del_id, "DELETE FROM by_id WHERE hi=?1 AND lo=?2", true},
        {&s.st_->del_num, "DELETE FROM by_number WHERE region=?1 AND number=?2", true},
        {&s.st_->set_meta,
         "UPDATE meta SET version=?1, expires=?2, feed_time=MAX(feed_time, ?3), "
         "fetched=?4, checked=?4, count=?5, digest=?6, key_ids=?7, etag=?8 WHERE id=1",
         true},
        {&s.st_->touch,
         "UPDATE meta SET checked=MAX(checked, ?1), etag=?2, expires=MAX(expires, ?3), "
         "feed_time=MAX(feed_time, ?4) WHERE id=1",
         true},
    };
    for (auto& st : stmts) {
        if (st.writes && read_only) continue;
        auto prepared = s.db_.prepare(st.sql);
        if (!prepared) return unexpected(s.db_.fail(path.string()));
        *st.stmt = std::move(*prepared);
    }
    return s;
}

Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Expected<std::optional<Entry>, Error> Store::lookupCardId(std::string_view card_id) {
    auto k = encodeCardId(card_id);
    if (!k) return std::optional<Entry>{};
    sqlite::Stmt& s = st_->get_id;
    int rc = s.bindPair(1, k->hi, k->lo).step();
    std::optional<Entry> out;
    if (rc == SQLITE_ROW) {
        Record r;
        r.has_id = true;
        r.id = *k;
        r.region = s.colInt(0);
        r.number = s.colInt(1);
        r.state = static_cast<State>(s.colInt(2) & 3);
        r.effective_at = s.colInt(3);
        r.expires_at = s.colOptInt(4);
        r.replaced_by = s.colOptInt(5);
        out = toEntry(r);
    }
    s.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(db_.fail("list lookup"));
    return out;
}

Expected<bool, Error> Store::containsId(IdKey k) {
    sqlite::Stmt& s = st_->get_id;
    int rc = s.bindPair(1, k.hi, k.lo).step();
    s.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(db_.fail("list lookup"));
    return rc == SQLITE_ROW;
}

Expected<std::optional<Entry>, Error> Store::lookupNumber(std::string_view region,
                                                          std::string_view card_number) {
    auto k = encodeNumberKey(region, card_number);
    if (!k) return std::optional<Entry>{};
    sqlite::Stmt& s = st_->get_num;
    int rc = s.bindPair(1, k->region, k->number).step();
    std::optional<Entry> out;
    if (rc == SQLITE_ROW) {
        Record r;
        r.region = k->region;
        r.number = k->number;
        r.state = static_cast<State>(s.colInt(0) & 3);
        r.effective_at = s.colInt(1);
        r.expires_at = s.colOptInt(2);
        r.replaced_by = s.colOptInt(3);
        out = toEntry(r);
    }
    s.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(db_.fail("list lookup"));
    return out;
}

Expected<std::vector<Entry>, Error> Store::lookup(const CardFacts& card) {
    // One statement (one read transaction) for both keys: the card_id entry first.
    std::vector<Entry> out;
    std::optional<IdKey> id = card.card_id ? encodeCardId(*card.card_id) : std::nullopt;
    auto num = encodeNumberKey(card.region, card.card_number);
    if (!id && !num) return out;
    sqlite::Stmt& s = st_->get_card;
    if (id) s.bindPair(1, id->hi, id->lo);  // else NULL: matches nothing
    if (num) s.bindPair(3, num->region, num->number);
    int rc = SQLITE_ROW;
    while ((rc = s.step()) == SQLITE_ROW) {
        Record r;
        r.has_id = s.colInt(0) == 0;
        if (r.has_id) r.id = *id;
        r.region = s.colInt(1);
        r.number = s.colInt(2);
        r.state = static_cast<State>(s.colInt(3) & 3);
        r.effective_at = s.colInt(4);
        r.expires_at = s.colOptInt(5);
        r.replaced_by = s.colOptInt(6);
        out.push_back(toEntry(r));
    }
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(db_.fail("list lookup"));
    return out;
}

Expected<bool, Error> Store::hasNumberOnlyEntries(std::string_view region) {
    auto r = encodeRegion(region);
    if (!r) return false;
    sqlite::Stmt& s = st_->any_in_region;
    s.bind(1, *r);
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return unexpected(db_.fail("list lookup by region"));
    return rc == SQLITE_ROW;
}

Expected<ListMeta, Error> Store::status() {
    sqlite::Stmt& s = st_->get_meta;
    ListMeta m;
    int rc = s.step();
    if (rc == SQLITE_ROW) {
        m.version = s.colInt(0);
        m.expires = s.colInt(1);
        m.feed_time = s.colInt(2);
        m.fetched = s.colInt(3);
        m.checked = s.colInt(4);
        m.count = s.colInt(5);
        m.digest = s.colText(6);
        std::string_view ids = s.colTextView(7);
        for (std::size_t p = 0; !ids.empty() && p <= ids.size();) {
            std::size_t c = ids.find(',', p);
            if (c == std::string_view::npos) c = ids.size();
            m.key_ids.emplace_back(ids.substr(p, c - p));
            p = c + 1;
        }
        m.etag = s.colText(8);
    }
    s.reset();
    if (rc != SQLITE_ROW) return unexpected(db_.fail("list status"));
    return m;
}

Expected<void, Error> Store::touch(std::int64_t now, const std::string& etag, std::int64_t expires,
                                   std::int64_t feed_time) {
    sqlite::Stmt& s = st_->touch;
    if (!s.valid()) return unexpected(makeError(ErrorCode::list_unavailable, "list is read-only"));
    int rc =
        s.bind(1, now).bind(2, std::string_view(etag)).bind(3, expires).bind(4, feed_time).step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(db_.fail("list update"));
    return {};
}

Expected<void, Error> Store::applyFile(const Decoder& run, const VersionInfo& info, bool delta) {
    if (!st_->set_meta.valid()) {
        return unexpected(makeError(ErrorCode::list_unavailable, "list is read-only"));
    }
    // Room for the pages a delta dirties (random upserts into a 10 M-row tree: about one page per
    // change), released again afterwards; without it SQLite spills and re-reads pages. A snapshot
    // appends in key order and needs no more than the default.
    if (delta) (void)db_.setPragma("cache_size", -65536);
    struct CacheBack {
        sqlite::Db& db;
        ~CacheBack() { (void)db.setPragma("cache_size", -16384); }
    } cache_back{db_};
    sqlite::Transaction tx(db_);
    if (auto b = tx.begin(); !b) return b;
    auto meta = status();
    if (!meta) return unexpected(meta.error());
    if (info.version <= meta->version) {
        return unexpected(
            makeError(ErrorCode::feed_rejected, "version " + std::to_string(info.version) +
                                                    " is not above the stored version " +
                                                    std::to_string(meta->version)));
    }
    std::int64_t count = delta ? meta->count : 0;
    if (!delta) {
        auto r = db_.exec("DELETE FROM by_id; DELETE FROM by_number;");
        if (!r) return r;
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
        sqlite::Stmt& st = r.has_id ? st_->del_id : st_->del_num;
        int rc = r.has_id ? st.bindPair(1, r.id.hi, r.id.lo).step()
                          : st.bindPair(1, r.region, r.number).step();
        st.rewind();
        if (rc != SQLITE_DONE) return unexpected(db_.fail("list delete"));
        if (db_.changes() != 1) {
            return unexpected(makeError(ErrorCode::feed_rejected, "delta removes a missing entry"));
        }
        --count;
        return {};
    };
    sink.upsert = [&](const Record& r) -> Expected<void, Error> {
        sqlite::Stmt& st = r.has_id ? st_->ins_id : st_->ins_num;
        int i = 1;
        if (r.has_id) {
            st.bindPair(i, r.id.hi, r.id.lo);
            i += 2;
        }
        st.bindPair(i, r.region, r.number);
        i += 2;
        st.bind(i++, static_cast<std::int64_t>(r.state));
        st.bind(i++, r.effective_at);
        st.bindOpt(i++, r.expires_at);
        st.bindOpt(i++, r.replaced_by);
        int rc = st.step();
        st.rewind();
        if (rc == SQLITE_CONSTRAINT) {
            return unexpected(makeError(ErrorCode::feed_rejected, "list adds an existing entry"));
        }
        if (rc != SQLITE_DONE) return unexpected(db_.fail("list insert"));
        ++count;
        return {};
    };
    auto h = run(sink);
    if (!h) return unexpected(h.error());
    if (count != static_cast<std::int64_t>(info.count)) {
        return unexpected(makeError(ErrorCode::feed_rejected,
                                    "entry count " + std::to_string(count) + " differs from the " +
                                        std::to_string(info.count) + " the manifest names"));
    }
    sqlite::Stmt& s = st_->set_meta;
    int rc = s.bind(1, info.version)
                 .bind(2, info.expires)
                 .bind(3, info.feed_time)
                 .bind(4, info.now)
                 .bind(5, count)
                 .bind(6, std::string_view(info.digest))
                 .bind(7, std::string_view(joinIds(info.key_ids)))
                 .bind(8, std::string_view(info.etag))
                 .step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(db_.fail("list meta"));
    if (auto c = tx.commit(); !c) return c;
    // A snapshot rewrites every page: give the WAL back to the file system (best effort; readers
    // may keep it from truncating, which is harmless).
    if (!delta) (void)db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
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
    return db_.setPragma("mmap_size", std::max<std::int64_t>(0, bytes));
}

Expected<std::int64_t, Error> Store::countRows() {
    auto s = db_.prepare("SELECT (SELECT count(*) FROM by_id) + (SELECT count(*) FROM by_number)");
    if (!s) return unexpected(db_.fail("count"));
    if (s->step() != SQLITE_ROW) return unexpected(db_.fail("count"));
    return s->colInt(0);
}

Expected<void, Error> Store::integrityCheck() {
    return db_.integrityCheck("integrity_check: ", "\n");
}

}  // namespace sscard::blacklist
