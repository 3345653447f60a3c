#include "daemon/outbox/outbox.hpp"

#include <sqlite3.h>
#include <systemd/sd-id128.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <stdexcept>

#include "base/sqlite.hpp"
#include "crypto/random.hpp"
#include "crypto/sha256.hpp"

namespace sscard::outbox {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::size_t kMaxErrorBytes = 500;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY,   -- enqueue order: a new row always gets max(seq) + 1
    event_id        TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,      -- Unix ms
    body            TEXT NOT NULL,         -- the exact JSON POSTed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,  -- Unix ms
    last_error      TEXT
);
)sql";

constexpr const char* kColumns =
    "seq, event_id, type, body, created_at, attempts, next_attempt_at, last_error";

Error invalid(std::string msg) {
    return makeError(ErrorCode::internal, "outbox: " + std::move(msg));
}

bool endsWith(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The first PIN-like key anywhere in `j`, as a dotted path.
std::optional<std::string> findPinLikeKey(const json& j, const std::string& path) {
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
            std::string here = path.empty() ? k : path + "." + k;
            if (isPinLikeKey(k)) return here;
            if (auto found = findPinLikeKey(v, here)) return found;
        }
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            if (auto found = findPinLikeKey(j[i], path + "[" + std::to_string(i) + "]")) {
                return found;
            }
        }
    }
    return std::nullopt;
}

ordered_json orNull(const std::string& s) {
    return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

std::string cut(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    // Do not split a UTF-8 sequence.
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return std::string(s.substr(0, n)) + "...";
}

TimePoint fromMs(std::int64_t ms) {
    return TimePoint(std::chrono::milliseconds(ms));
}

std::int64_t toMs(TimePoint t) {
    return t.time_since_epoch().count();
}

}  // namespace

TimePoint now() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
}

bool isPinLikeKey(std::string_view key) {
    std::string n;
    n.reserve(key.size());
    for (char c : key) {
        if (c >= 'A' && c <= 'Z') {
            n += static_cast<char>(c - 'A' + 'a');
        } else if (c == '-' || c == ' ') {
            n += '_';
        } else {
            n += c;
        }
    }
    return endsWith(n, "pin") || endsWith(n, "puk") || n == "pin_block" || n == "pinblock" ||
           n == "pin_code" || n == "pincode";
}

bool isEventTypeName(std::string_view t) {
    if (t.empty() || t.size() > 64) return false;
    for (char c : t) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Expected<std::string, Error> newUuidV4() {
    // The bits from the one random seam (crypto::randomBytes, so that a failing source fails the
    // event and tests can make it fail); the version/variant bits and the text from libsystemd.
    auto random = crypto::randomBytes(sizeof(sd_id128_t));
    if (!random) {
        return unexpected(makeError(ErrorCode::internal,
                                    "cannot make a random event id: " + random.error().message));
    }
    sd_id128_t id{};
    std::memcpy(id.bytes, random->data(), sizeof id.bytes);
    id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0F) | 0x40);  // version 4
    id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3F) | 0x80);  // variant 1 (RFC 4122)
    std::array<char, SD_ID128_UUID_STRING_MAX> text{};
    return std::string(sd_id128_to_uuid_string(id, text.data()));
}

std::string rfc3339(TimePoint t) {
    std::int64_t ms = toMs(t);
    std::int64_t secs = ms / 1000;
    std::int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac));
    return buf;
}

struct Outbox::Impl {
    OutboxOptions options;
    std::mutex mu;
    sqlite::Db db;  // declared before the statements: they are finalized first
    sqlite::Stmt insert, pending, due, next, count, del, failed, resched, dropOldest;
    // Undelivered events, known once a bounded enqueue has counted them (this process is the only
    // writer of its outbox; deliveries keep it current).
    std::optional<std::int64_t> queued;
    BoundStats bound;

    // Makes room for one event of `type` under the bound. False: a droppable event that does not
    // fit (nothing older of its type to drop); it is counted and not stored.
    Expected<bool, Error> makeRoom(std::string_view type);
};

Expected<bool, Error> Outbox::Impl::makeRoom(std::string_view type) {
    if (options.max_events <= 0) return true;
    if (!queued) {
        auto& c = count.reset();
        if (c.step() != SQLITE_ROW) {
            c.reset();
            return unexpected(db.fail("outbox: cannot count"));
        }
        queued = c.colInt(0);
        c.reset();
    }
    if (*queued < options.max_events) return true;
    if (type != options.droppable_type) {
        ++bound.over_bound;
        return true;
    }
    std::int64_t excess = *queued - options.max_events + 1;
    auto& d = dropOldest.reset();
    d.bind(1, std::string_view(options.droppable_type)).bind(2, excess);
    int rc = d.step();
    d.reset();
    if (rc != SQLITE_DONE) return unexpected(db.fail("outbox: cannot drop old events"));
    std::int64_t gone = db.changes();
    *queued -= gone;
    bound.dropped += static_cast<std::uint64_t>(gone);
    if (gone < excess) {
        ++bound.dropped;  // the new one
        return false;
    }
    return true;
}

Outbox::Outbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Outbox::~Outbox() = default;

Expected<std::unique_ptr<Outbox>, Error> Outbox::open(const std::filesystem::path& path,
                                                      OutboxOptions options) {
    try {
        auto impl = std::make_unique<Impl>();
        impl->options = std::move(options);
        sqlite::OpenOptions db_options;
        db_options.wal = impl->options.durable ? sqlite::Sync::full : sqlite::Sync::normal;
        db_options.busy_timeout_ms = impl->options.busy_timeout_ms;
        db_options.mmap_size = 0;  // no mmap: it would turn I/O errors into signals
        db_options.extended_result_codes = true;
        auto db = sqlite::Db::open(path, std::move(db_options));
        if (!db) return unexpected(db.error());
        impl->db = std::move(*db);
        if (auto r = impl->db.exec(kSchema); !r) return unexpected(r.error());

        const std::string cols = kColumns;
        auto prepared = impl->db.prepareAll({
            {&impl->insert,
             "INSERT INTO outbox (event_id, type, created_at, body) VALUES (?1, ?2, ?3, ?4)"},
            {&impl->pending, "SELECT " + cols + " FROM outbox ORDER BY seq LIMIT ?1"},
            {&impl->due,
             "SELECT " + cols + " FROM outbox WHERE next_attempt_at <= ?1 ORDER BY seq LIMIT ?2"},
            {&impl->next, "SELECT min(next_attempt_at) FROM outbox"},
            {&impl->count, "SELECT count(*) FROM outbox"},
            {&impl->del, "DELETE FROM outbox WHERE event_id = ?1"},
            {&impl->failed,
             "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 "
             "WHERE event_id = ?1"},
            {&impl->resched, "UPDATE outbox SET next_attempt_at = ?2 WHERE next_attempt_at > ?1"},
            {&impl->dropOldest,
             "DELETE FROM outbox WHERE seq IN "
             "(SELECT seq FROM outbox WHERE type = ?1 ORDER BY seq LIMIT ?2)"},
        });
        if (!prepared) return unexpected(prepared.error());
        return std::unique_ptr<Outbox>(new Outbox(std::move(impl)));
    } catch (const std::exception& e) {
        return unexpected(invalid(std::string("cannot open: ") + e.what()));
    }
}

Expected<std::string, Error> Outbox::enqueue(std::string_view type, const CardRef& card,
                                             const nlohmann::json& extra) {
    std::string id;
    try {
        if (!isEventTypeName(type))
            return unexpected(invalid("bad event type (want [a-z0-9._-]{1,64})"));
        if (!extra.is_null() && !extra.is_object()) {
            return unexpected(invalid("extra event fields must be a JSON object"));
        }
        if (auto key = findPinLikeKey(extra, "")) {
            // The key's name only: never its value.
            return unexpected(invalid("refusing an event field named like a PIN: \"" + *key +
                                      "\" (no PIN is ever part of an event)"));
        }
        auto uuid = newUuidV4();
        if (!uuid) return unexpected(uuid.error());
        id = std::move(*uuid);
        TimePoint at = now();
        ordered_json body;
        body["event_id"] = id;
        body["type"] = std::string(type);
        body["at"] = rfc3339(at);
        body["terminal_id"] = orNull(impl_->options.terminal_id);
        body["card"] = ordered_json{{"card_id", orNull(card.card_id)},
                                    {"region", orNull(card.region)},
                                    {"card_number", orNull(card.card_number)}};
        if (extra.is_object()) {
            // Keep the caller's member order as nlohmann::json gives it (sorted).
            ordered_json ex = ordered_json::parse(
                extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            for (auto& [k, v] : ex.items()) {
                if (body.contains(k)) {
                    return unexpected(
                        invalid("extra event field \"" + k + "\" would replace a reserved field"));
                }
                body[k] = v;
            }
        }
        std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() > kMaxEventBytes) {
            return unexpected(invalid("event of " + std::to_string(text.size()) +
                                      " bytes is larger than " + std::to_string(kMaxEventBytes)));
        }

        {
            std::lock_guard lk(impl_->mu);
            impl_->bound.max_events = impl_->options.max_events;
            auto room = impl_->makeRoom(type);
            if (!room) return unexpected(room.error());
            if (!*room) {
                return unexpected(makeError(
                    ErrorCode::busy, "outbox: full (" + std::to_string(impl_->options.max_events) +
                                         " events); event dropped"));
            }
            auto& s = impl_->insert.reset();
            s.bind(1, std::string_view(id)).bind(2, type).bind(3, toMs(at));
            s.bind(4, std::string_view(text));
            // One statement in autocommit mode: one transaction, fsynced (synchronous=FULL)
            // before step() returns.
            int rc = s.step();
            s.reset();
            if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("outbox: cannot store event"));
            if (impl_->queued) ++*impl_->queued;
        }
    } catch (const std::exception& e) {
        return unexpected(invalid(std::string("cannot build event: ") + e.what()));
    }

    {
        // Called under listener_mu_ so that once setEnqueueListener(nullptr) returns, the old
        // listener is never called again (its owner may be gone).
        std::lock_guard lk(listener_mu_);
        if (listener_) listener_();
    }
    return id;
}

namespace {

Expected<std::vector<PendingEvent>, Error> readEvents(sqlite::Db& db, sqlite::Stmt& s) {
    std::vector<PendingEvent> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        PendingEvent e;
        e.seq = s.colInt(0);
        e.event_id = s.colText(1);
        e.type = s.colText(2);
        e.body = s.colText(3);
        e.created_at = fromMs(s.colInt(4));
        e.attempts = static_cast<int>(s.colInt(5));
        e.next_attempt_at = fromMs(s.colInt(6));
        e.last_error = s.colText(7);
        out.push_back(std::move(e));
    }
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(db.fail("outbox: cannot read events"));
    return out;
}

std::int64_t clampLimit(std::size_t limit) {
    return limit > 1'000'000 ? 1'000'000 : static_cast<std::int64_t>(limit);
}

}  // namespace

Expected<std::vector<PendingEvent>, Error> Outbox::pending(std::size_t limit) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->pending.reset();
    s.bind(1, clampLimit(limit));
    return readEvents(impl_->db, s);
}

Expected<std::vector<PendingEvent>, Error> Outbox::due(TimePoint at, std::size_t limit) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->due.reset();
    s.bind(1, toMs(at)).bind(2, clampLimit(limit));
    return readEvents(impl_->db, s);
}

Expected<std::optional<TimePoint>, Error> Outbox::nextAttemptAt() {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->next.reset();
    if (s.step() != SQLITE_ROW) {
        s.reset();
        return unexpected(impl_->db.fail("outbox: cannot read"));
    }
    auto v = s.colOptInt(0);
    s.reset();
    if (!v) return std::optional<TimePoint>();
    return std::optional<TimePoint>(fromMs(*v));
}

Expected<std::int64_t, Error> Outbox::count() {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->count.reset();
    if (s.step() != SQLITE_ROW) {
        s.reset();
        return unexpected(impl_->db.fail("outbox: cannot count"));
    }
    std::int64_t n = s.colInt(0);
    s.reset();
    if (impl_->queued) impl_->queued = n;
    return n;
}

BoundStats Outbox::boundStats() const {
    std::lock_guard lk(impl_->mu);
    BoundStats b = impl_->bound;
    b.max_events = impl_->options.max_events;
    return b;
}

Expected<bool, Error> Outbox::markDelivered(std::string_view event_id) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->del.reset();
    s.bind(1, event_id);
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("outbox: cannot delete event"));
    bool deleted = impl_->db.changes() > 0;
    if (deleted && impl_->queued) --*impl_->queued;
    return deleted;
}

Expected<bool, Error> Outbox::markAttemptFailed(std::string_view event_id, std::string_view error,
                                                TimePoint next_attempt_at) {
    std::string why = cut(error, kMaxErrorBytes);
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->failed.reset();
    s.bind(1, event_id).bind(2, std::string_view(why)).bind(3, toMs(next_attempt_at));
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("outbox: cannot update event"));
    return impl_->db.changes() > 0;
}

Expected<std::int64_t, Error> Outbox::rescheduleLaterThan(TimePoint latest, TimePoint to) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->resched.reset();
    s.bind(1, toMs(latest)).bind(2, toMs(to));
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("outbox: cannot reschedule"));
    return impl_->db.changes();
}

Expected<void, Error> Outbox::integrityCheck() {
    std::lock_guard lk(impl_->mu);
    return impl_->db.integrityCheck();
}

Expected<std::pair<std::string, int>, Error> Outbox::storageMode() {
    std::lock_guard lk(impl_->mu);
    auto mode = impl_->db.journalMode();
    if (!mode) return unexpected(mode.error());
    auto sync = impl_->db.synchronous();
    if (!sync) return unexpected(sync.error());
    return std::make_pair(*mode, *sync);
}

void Outbox::setEnqueueListener(std::function<void()> listener) {
    std::lock_guard lk(listener_mu_);
    listener_ = std::move(listener);
}

}  // namespace sscard::outbox
