// The audit log: each decision and card event on this terminal, in SQLite, with bounded retention.
//
// One row per event: when, which reader, what kind, the card (card_id, region, card_number — card
// identifiers, not personal data per docs/api.md#audit-log), the decision and its reason, and the
// list version and age the decision used. There is no column for the holder's SSN or name (personal
// data) and none for a PIN: they cannot be stored here by mistake.
//
// Retention: rows older than `retention` and rows beyond the newest `max_entries` are deleted in
// small batches (`prune_batch` rows, one short transaction each), so pruning never holds the
// database for long: record() runs one batch every `prune_every` records (as of
// AuditOptions::clock, see AuditClock), and prune() — to call at start-up and from a periodic timer
// (on a monotonic schedule), since an idle terminal records nothing, with AuditClock::now() — runs
// batches until nothing is left to delete, releasing the lock between them. Entries stamped later
// than the time given are never aged out.
//
// Durability: synchronous=NORMAL by default. In WAL mode that never corrupts the file; a power loss
// may lose the last entries written since the previous fsync (the outbox's FULL commits on the
// same file, and checkpoints, fsync the WAL). Backend-relevant events go through the outbox, which
// is FULL. `durable = true` makes every audit commit FULL too (~0.2-0.3 ms more per entry).
//
// The table may live in the same SQLite file as the outbox (its own connection; WAL lets them
// interleave) or in a file of its own. Thread safety: any thread; one mutex guards the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/outbox/outbox.hpp"

namespace sscard::outbox {

struct AuditRecord {
    TimePoint at{};        // epoch = now
    std::string kind;      // [a-z0-9._-]{1,64}, e.g. "card.checked", "card.removed"
    std::string reader;    // reader name
    CardRef card;          // empty fields are stored as NULL
    std::string decision;  // "allow" / "deny" / "" (no decision)
    std::string reason;    // the decision's reason ("ok", "frozen"...) or ""
    std::optional<std::int64_t> list_version;
    std::optional<std::int64_t> list_age_s;
    std::string code;      // an outcome or error code of the contract ("pin_wrong"...) or ""
    std::string event_id;  // the outbox event recorded for this, if any
    bool operator==(const AuditRecord&) const = default;
};

struct AuditEntry {
    std::int64_t id = 0;  // increasing with each record
    AuditRecord record;
};

class AuditClock;

struct AuditOptions {
    std::chrono::milliseconds retention = std::chrono::hours(24 * 90);  // <= 0: no age limit
    std::int64_t max_entries = 1'000'000;                               // <= 0: no count limit
    std::size_t prune_batch = 500;
    std::size_t prune_every = 64;
    int busy_timeout_ms = 5000;
    bool durable = false;  // synchronous=FULL instead of NORMAL
    // The time record()'s own prune batches go by; null: an AuditClock made at open().
    std::shared_ptr<const AuditClock> clock;
};

// The options for `[audit]` of the configuration (retention, max_entries; the rest at defaults).
AuditOptions auditOptions(const AuditConfig& audit);

// The time audit pruning goes by: the wall clock, but never further ahead than the wall time when
// this clock was made plus the time since on CLOCK_BOOTTIME (which counts suspend and which no
// clock setting moves). A wall clock set forward while the service runs (by hand, a hostile time
// server) therefore cannot make every entry look older than the retention; set back, it only
// prunes less. Entries stamped later than this time (written while the clock was ahead) are not
// aged out early; [audit] max_entries still bounds them. The wall time at start is trusted as the
// system set it. The sources are injectable for tests.
class AuditClock {
  public:
    using WallSource = std::function<TimePoint()>;
    using BootSource = std::function<std::chrono::milliseconds()>;  // a monotonic count

    AuditClock();  // the real clocks: outbox::now() and CLOCK_BOOTTIME
    AuditClock(WallSource wall, BootSource boot);

    TimePoint now() const;

  private:
    WallSource wall_;
    BootSource boot_;
    TimePoint anchorWall_;
    std::chrono::milliseconds anchorBoot_;
};

class AuditLog {
  public:
    static Expected<std::unique_ptr<AuditLog>, Error> open(const std::filesystem::path& path,
                                                           const AuditOptions& options = {});
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Appends one entry and returns its id; every prune_every records, one prune batch too.
    // Text fields are cut to 256 bytes; a bad kind is refused (internal error).
    Expected<std::int64_t, Error> record(const AuditRecord& r);

    // One batch: up to prune_batch rows older than at - retention, then (with what is left of the
    // batch) the oldest rows beyond max_entries. Returns the rows deleted.
    Expected<std::size_t, Error> pruneStep(TimePoint at);
    // Batches until nothing is left to delete. Returns the rows deleted.
    Expected<std::size_t, Error> prune(TimePoint at);

    // The newest entries first.
    Expected<std::vector<AuditEntry>, Error> recent(std::size_t limit);
    Expected<std::int64_t, Error> count();
    Expected<void, Error> integrityCheck();

  private:
    struct Impl;
    explicit AuditLog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sscard::outbox
