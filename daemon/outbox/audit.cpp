#include "daemon/outbox/audit.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <mutex>

#include "base/sqlite.hpp"
#include "daemon/outbox/outbox.hpp"

namespace sscard::outbox {

namespace {

constexpr std::size_t kMaxText = 256;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit (
    id           INTEGER PRIMARY KEY,  -- a new row always gets max(id) + 1
    at           INTEGER NOT NULL,     -- Unix ms
    kind         TEXT NOT NULL,
    reader       TEXT,
    card_id      TEXT,
    region       TEXT,
    card_number  TEXT,
    decision     TEXT,
    reason       TEXT,
    list_version INTEGER,
    list_age_s   INTEGER,
    code         TEXT,
    event_id     TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
)sql";

std::string_view cut(std::string_view s) {
    if (s.size() <= kMaxText) return s;
    std::size_t n = kMaxText;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

std::int64_t toMs(TimePoint t) {
    return t.time_since_epoch().count();
}

}  // namespace

namespace {

std::chrono::milliseconds bootTime() {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace

AuditClock::AuditClock() : AuditClock([] { return outbox::now(); }, bootTime) {}

AuditClock::AuditClock(WallSource wall, BootSource boot)
    : wall_(std::move(wall)), boot_(std::move(boot)), anchorWall_(wall_()), anchorBoot_(boot_()) {}

TimePoint AuditClock::now() const {
    TimePoint wall = wall_();
    TimePoint bound = anchorWall_ + (boot_() - anchorBoot_);
    return std::min(wall, bound);
}

AuditOptions auditOptions(const AuditConfig& audit) {
    AuditOptions o;
    o.retention = audit.retention;
    o.max_entries = audit.max_entries;
    return o;
}

struct AuditLog::Impl {
    AuditOptions options;
    std::mutex mu;
    std::size_t since_prune = 0;
    sqlite::Db db;
    sqlite::Stmt insert, by_age, by_count, recent, count;

    // One batch; the caller holds mu.
    Expected<std::size_t, Error> pruneLocked(TimePoint at) {
        std::size_t deleted = 0;
        auto batch = static_cast<std::int64_t>(options.prune_batch == 0 ? 1 : options.prune_batch);
        if (options.retention.count() > 0) {
            auto& s = by_age.reset();
            s.bind(1, toMs(at) - options.retention.count()).bind(2, batch);
            int rc = s.step();
            s.reset();
            if (rc != SQLITE_DONE) return unexpected(db.fail("audit: cannot prune"));
            deleted += static_cast<std::size_t>(db.changes());
        }
        auto left = batch - static_cast<std::int64_t>(deleted);
        if (options.max_entries > 0 && left > 0) {
            auto& s = by_count.reset();
            s.bind(1, options.max_entries).bind(2, left);
            int rc = s.step();
            s.reset();
            if (rc != SQLITE_DONE) return unexpected(db.fail("audit: cannot prune"));
            deleted += static_cast<std::size_t>(db.changes());
        }
        return deleted;
    }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLog::~AuditLog() = default;

Expected<std::unique_ptr<AuditLog>, Error> AuditLog::open(const std::filesystem::path& path,
                                                          const AuditOptions& options) {
    try {
        auto impl = std::make_unique<Impl>();
        impl->options = options;
        if (!impl->options.clock) impl->options.clock = std::make_shared<AuditClock>();
        sqlite::OpenOptions db_options;
        db_options.wal = options.durable ? sqlite::Sync::full : sqlite::Sync::normal;
        db_options.busy_timeout_ms = options.busy_timeout_ms;
        db_options.mmap_size = 0;  // no mmap: it would turn I/O errors into signals
        db_options.extended_result_codes = true;
        auto db = sqlite::Db::open(path, std::move(db_options));
        if (!db) return unexpected(db.error());
        impl->db = std::move(*db);
        if (auto r = impl->db.exec(kSchema); !r) return unexpected(r.error());
        auto prepared = impl->db.prepareAll({
            {&impl->insert,
             "INSERT INTO audit (at, kind, reader, card_id, region, card_number, decision, "
             "reason, list_version, list_age_s, code, event_id) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
            {&impl->by_age,
             "DELETE FROM audit WHERE id IN "
             "(SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)"},
            // Rows with id > max(id) - N are at most N (ids are unique integers), so this keeps
            // at most the newest N rows without counting the table.
            {&impl->by_count,
             "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE id <= "
             "(SELECT max(id) FROM audit) - ?1 ORDER BY id LIMIT ?2)"},
            {&impl->recent,
             "SELECT id, at, kind, reader, card_id, region, card_number, decision, reason, "
             "list_version, list_age_s, code, event_id FROM audit ORDER BY id DESC LIMIT ?1"},
            {&impl->count, "SELECT count(*) FROM audit"},
        });
        if (!prepared) return unexpected(prepared.error());
        return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
    } catch (const std::exception& e) {
        return unexpected(makeError(ErrorCode::internal, std::string("audit: ") + e.what()));
    }
}

Expected<std::int64_t, Error> AuditLog::record(const AuditRecord& r) {
    if (!isEventTypeName(r.kind)) {
        return unexpected(
            makeError(ErrorCode::internal, "audit: bad kind (want [a-z0-9._-]{1,64})"));
    }
    TimePoint at = r.at == TimePoint{} ? now() : r.at;
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->insert.reset();
    s.bind(1, toMs(at)).bind(2, std::string_view(r.kind));
    s.bindText(3, cut(r.reader));
    s.bindText(4, cut(r.card.card_id)).bindText(5, cut(r.card.region));
    s.bindText(6, cut(r.card.card_number));
    s.bindText(7, cut(r.decision)).bindText(8, cut(r.reason));
    s.bindOpt(9, r.list_version).bindOpt(10, r.list_age_s);
    s.bindText(11, cut(r.code)).bindText(12, cut(r.event_id));
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("audit: cannot record"));
    std::int64_t id = impl_->db.lastInsertRowid();
    if (++impl_->since_prune >= impl_->options.prune_every) {
        impl_->since_prune = 0;
        // A failed prune does not fail the record: the next batch tries again.
        (void)impl_->pruneLocked(impl_->options.clock->now());
    }
    return id;
}

Expected<std::size_t, Error> AuditLog::pruneStep(TimePoint at) {
    std::lock_guard lk(impl_->mu);
    return impl_->pruneLocked(at);
}

Expected<std::size_t, Error> AuditLog::prune(TimePoint at) {
    std::size_t total = 0;
    for (;;) {
        auto n = pruneStep(at);  // the lock is released between batches
        if (!n) return unexpected(n.error());
        total += *n;
        if (*n == 0) return total;
    }
}

Expected<std::vector<AuditEntry>, Error> AuditLog::recent(std::size_t limit) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->recent.reset();
    s.bind(1, static_cast<std::int64_t>(limit > 1'000'000 ? 1'000'000 : limit));
    std::vector<AuditEntry> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        AuditEntry e;
        e.id = s.colInt(0);
        e.record.at = TimePoint(std::chrono::milliseconds(s.colInt(1)));
        e.record.kind = s.colText(2);
        e.record.reader = s.colText(3);
        e.record.card.card_id = s.colText(4);
        e.record.card.region = s.colText(5);
        e.record.card.card_number = s.colText(6);
        e.record.decision = s.colText(7);
        e.record.reason = s.colText(8);
        e.record.list_version = s.colOptInt(9);
        e.record.list_age_s = s.colOptInt(10);
        e.record.code = s.colText(11);
        e.record.event_id = s.colText(12);
        out.push_back(std::move(e));
    }
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("audit: cannot read"));
    return out;
}

Expected<std::int64_t, Error> AuditLog::count() {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->count.reset();
    int rc = s.step();
    std::int64_t n = rc == SQLITE_ROW ? s.colInt(0) : 0;
    s.reset();
    if (rc != SQLITE_ROW) return unexpected(impl_->db.fail("audit: cannot count"));
    return n;
}

Expected<void, Error> AuditLog::integrityCheck() {
    std::lock_guard lk(impl_->mu);
    return impl_->db.integrityCheck();
}

}  // namespace sscard::outbox
