#include "daemon/outbox/unknown_activations.hpp"

#include <sqlite3.h>

#include <exception>
#include <mutex>

#include "base/sqlite.hpp"

namespace sscard::outbox {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS unknown_activation (
    card     TEXT PRIMARY KEY,  -- "id:<card_id>", or "number:<region>/<card_number>"
    old_card TEXT NOT NULL,     -- JSON, "" for none
    at       INTEGER NOT NULL   -- Unix ms
);
)sql";

std::int64_t toMs(TimePoint t) {
    return t.time_since_epoch().count();
}

}  // namespace

struct UnknownActivations::Impl {
    std::chrono::milliseconds keep{};
    std::mutex mu;
    sqlite::Db db;
    sqlite::Stmt upsert, expire, select, remove;
};

UnknownActivations::UnknownActivations(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UnknownActivations::~UnknownActivations() = default;

Expected<std::unique_ptr<UnknownActivations>, Error> UnknownActivations::open(
    const std::filesystem::path& path, std::chrono::milliseconds keep) {
    try {
        auto impl = std::make_unique<Impl>();
        impl->keep = keep;
        sqlite::OpenOptions options;
        options.wal = sqlite::Sync::full;
        options.mmap_size = 0;  // no mmap: it would turn I/O errors into signals
        auto db = sqlite::Db::open(path, std::move(options));
        if (!db) return unexpected(db.error());
        impl->db = std::move(*db);
        if (auto r = impl->db.exec(kSchema); !r) return unexpected(r.error());
        auto prepared = impl->db.prepareAll({
            {&impl->upsert,
             "INSERT INTO unknown_activation (card, old_card, at) VALUES (?1, ?2, ?3) "
             "ON CONFLICT(card) DO UPDATE SET old_card = excluded.old_card, at = excluded.at"},
            {&impl->expire, "DELETE FROM unknown_activation WHERE at < ?1"},
            {&impl->select,
             "SELECT card, old_card, at FROM unknown_activation WHERE card = ?1 AND at >= ?2"},
            {&impl->remove, "DELETE FROM unknown_activation WHERE card = ?1"},
        });
        if (!prepared) return unexpected(prepared.error());
        return std::unique_ptr<UnknownActivations>(new UnknownActivations(std::move(impl)));
    } catch (const std::exception& e) {
        return unexpected(
            makeError(ErrorCode::internal, std::string("unknown activations: ") + e.what()));
    }
}

Expected<void, Error> UnknownActivations::record(const UnknownActivation& activation) {
    std::lock_guard lk(impl_->mu);
    auto& expire = impl_->expire.reset();
    expire.bind(1, toMs(activation.at) - impl_->keep.count());
    int rc = expire.step();
    expire.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("unknown activations: cannot expire"));
    auto& s = impl_->upsert.reset();
    s.bind(1, std::string_view(activation.card)).bind(2, std::string_view(activation.old_card));
    s.bind(3, toMs(activation.at));
    rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("unknown activations: cannot record"));
    return {};
}

Expected<std::optional<UnknownActivation>, Error> UnknownActivations::find(const std::string& card,
                                                                           TimePoint at) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->select.reset();
    s.bind(1, std::string_view(card)).bind(2, toMs(at) - impl_->keep.count());
    int rc = s.step();
    std::optional<UnknownActivation> found;
    if (rc == SQLITE_ROW) {
        found = UnknownActivation{s.colText(0), s.colText(1),
                                  TimePoint(std::chrono::milliseconds(s.colInt(2)))};
    }
    s.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return unexpected(impl_->db.fail("unknown activations: cannot read"));
    return found;
}

Expected<void, Error> UnknownActivations::forget(const std::string& card) {
    std::lock_guard lk(impl_->mu);
    auto& s = impl_->remove.reset();
    s.bind(1, std::string_view(card));
    int rc = s.step();
    s.reset();
    if (rc != SQLITE_DONE) return unexpected(impl_->db.fail("unknown activations: cannot delete"));
    return {};
}

}  // namespace sscard::outbox
