// The outbox: backend events (docs/api.md#backend-events-and-the-outbox) stored durably
// before anything is sent.
//
// Delivery is at-least-once, made exactly-once at the receiver by idempotency keys:
//
//  1. enqueue() builds the event JSON — {"event_id", "type", "at", "terminal_id", "card": {...},
//     ...extra} — and INSERTs it in one SQLite transaction on a connection with journal_mode=WAL
//     and synchronous=FULL, so the WAL is fsynced before enqueue() returns: an event the caller was
//     told about survives a crash, a kill and a power loss. event_id is a random UUID v4, fixed at
//     that moment and stored with the exact body bytes.
//  2. The Sender (sender.hpp) POSTs the stored body, oldest first, with the header
//     `Idempotency-Key: <event_id>`. Only a 2xx answer deletes the row (markDelivered). Anything
//     else — no connection, a timeout, a 5xx, even a 4xx — keeps it and schedules a retry
//     (markAttemptFailed); an event is never dropped silently.
//  3. So an event can reach the receiver more than once: the answer was lost, the process died
//     between the 2xx and the DELETE, or the receiver processed a request it then answered 5xx.
//     Every copy carries the same event_id and Idempotency-Key, so a receiver that remembers the
//     keys it has processed applies each event exactly once.
//
// What is never stored: a PIN (the API takes none, and enqueue refuses extra fields named like one,
// see isPinLikeKey) and holder data (the card reference has no field for it).
//
// Thread safety: all methods may be called from any thread; one mutex guards the connection.
// Several Outbox objects (even processes) may share the file: SQLite's locking with busy_timeout
// serializes their writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::outbox {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;

TimePoint now();

// The card an event or an audit entry is about. Deliberately no holder fields: the SSN and the name
// are personal data and never go into the outbox or the audit log. Empty fields become null.
struct CardRef {
    std::string card_id;      // 32 upper-case hex digits
    std::string region;       // 6 digits
    std::string card_number;  // printed card number
    bool operator==(const CardRef&) const = default;
};

// One stored, undelivered event.
struct PendingEvent {
    std::int64_t seq = 0;  // enqueue order (oldest first)
    std::string event_id;
    std::string type;
    std::string body;  // the exact JSON POSTed
    TimePoint created_at{};
    int attempts = 0;
    TimePoint next_attempt_at{};  // not before this (epoch = at once)
    std::string last_error;
};

struct OutboxOptions {
    std::string terminal_id;  // goes into every event ("terminal_id"; null when empty)
    int busy_timeout_ms = 5000;
    // synchronous=FULL (the contract's "survives power loss"); false (NORMAL) only for benchmarks.
    bool durable = true;
    // At most this many undelivered events ([backend] max_events; 0: no bound). When the outbox is
    // full, an event of `droppable_type` makes room by deleting the oldest events of that type
    // (counted in BoundStats::dropped; if none is left to delete, the new one is not stored and is
    // counted too). Any other event (activations, PIN events) is never dropped: it is stored beyond
    // the bound and counted in BoundStats::over_bound, for the caller to warn about.
    std::int64_t max_events = 0;
    std::string droppable_type = "card.checked";
};

// How the outbox's bound has held since it was opened.
struct BoundStats {
    std::int64_t max_events = 0;   // 0: no bound
    std::uint64_t dropped = 0;     // droppable events deleted (or not stored) for room
    std::uint64_t over_bound = 0;  // other events stored although the outbox was full
};

// Largest event body accepted (a backend event is a few hundred bytes).
inline constexpr std::size_t kMaxEventBytes = 64 * 1024;

// The defensive PIN check: true for an object key that names a PIN or PUK and must never appear in
// an event. Compared case-insensitively with '-' and ' ' read as '_': "pin", any key ending in
// "pin" ("old_pin", "new_pin", "initial_pin", "newPin", "PIN"), "pin_block"/"pinblock", "puk" and
// any key ending in "puk". Keys that merely start with "pin" ("pin_source", "pin_tries") pass.
bool isPinLikeKey(std::string_view key);

// An event type or audit kind: 1-64 characters of [a-z0-9._-] ("card.checked", "pin.reset").
bool isEventTypeName(std::string_view name);

// A random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower case): bits from
// crypto::randomBytes, text from libsystemd's sd_id128_to_uuid_string;
// an internal error if the random source fails (then enqueue stores nothing and fails too).
Expected<std::string, Error> newUuidV4();

// RFC 3339 in UTC with milliseconds: "2026-11-24T13:45:56.123Z".
std::string rfc3339(TimePoint t);

class Outbox {
  public:
    // Opens or creates the outbox table in the SQLite file at `path` (the file may also hold the
    // audit table). internal error on failure (unwritable directory, corrupt file...).
    static Expected<std::unique_ptr<Outbox>, Error> open(const std::filesystem::path& path,
                                                         OutboxOptions options = {});
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Stores one event and returns its event_id once it is on disk (the bound: OutboxOptions).
    // `type` is [a-z0-9._-]{1,64} (e.g. "card.activated"); `extra` is null or a JSON object whose
    // members are added to the event's top level. Refused (internal error, nothing stored): a key
    // of `extra` — at any depth — that isPinLikeKey; an `extra` member named like a reserved field
    // (event_id, type, at, terminal_id, card); a body larger than kMaxEventBytes.
    Expected<std::string, Error> enqueue(std::string_view type, const CardRef& card,
                                         const nlohmann::json& extra = nullptr);

    // Up to `limit` undelivered events, oldest first, due or not.
    Expected<std::vector<PendingEvent>, Error> pending(std::size_t limit);
    // Up to `limit` events whose next attempt is at or before `at`, oldest first.
    Expected<std::vector<PendingEvent>, Error> due(TimePoint at, std::size_t limit);
    // The earliest next attempt among undelivered events; nullopt when there are none.
    Expected<std::optional<TimePoint>, Error> nextAttemptAt();
    // Undelivered events.
    Expected<std::int64_t, Error> count();
    BoundStats boundStats() const;

    // The backend took the event: deletes it. false if there was no such event.
    Expected<bool, Error> markDelivered(std::string_view event_id);
    // One more failed attempt: attempts + 1, the error (cut to 500 bytes), the next attempt time.
    // false if there was no such event.
    Expected<bool, Error> markAttemptFailed(std::string_view event_id, std::string_view error,
                                            TimePoint next_attempt_at);

    // Moves every next attempt later than `latest` to `to` (the Sender's guard against the wall
    // clock going back). Returns the events moved.
    Expected<std::int64_t, Error> rescheduleLaterThan(TimePoint latest, TimePoint to);

    // PRAGMA integrity_check of the file.
    Expected<void, Error> integrityCheck();
    // What this connection runs with: journal mode ("wal") and synchronous (2 = FULL).
    Expected<std::pair<std::string, int>, Error> storageMode();

    // Called after each successful enqueue (not under the database lock): the Sender wakes on it.
    // Replaces any previous listener; pass nullptr to remove. Once this returns, the previous
    // listener is not running and is never called again. The listener must not call back into
    // setEnqueueListener, and must not block (it runs on the enqueuing thread).
    void setEnqueueListener(std::function<void()> listener);

  private:
    struct Impl;
    explicit Outbox(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    std::mutex listener_mu_;
    std::function<void()> listener_;
};

}  // namespace sscard::outbox
