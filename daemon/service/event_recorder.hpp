// Where the service's card events and decisions go: the audit log always; the backend outbox for
// the events the backend receives (card.checked decisions, activations, PIN changes, resets).
//
// Decisions and plain card events are written on one writer thread, in order, after the answer has
// gone out: an outbox write waits for an fsync (synchronous=FULL, ~4 ms), which must not delay
// card.checked. Backend events of the PIN flows are stored before the flow answers, because the
// answer carries their event_id.
//
// Bounded: with no backend (a null outbox) nothing is queued for one, only audited (a backend
// event still gets an event_id, which then names its audit row). The writer's queue holds at most
// `max_queued` writes; beyond that a write is dropped and counted (a client polling card.check
// faster than the disk cannot grow memory). The outbox's own bound is OutboxOptions::max_events.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apdu/ssse/card_data.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "base/worker_pool.hpp"
#include "blacklist/decision.hpp"
#include "daemon/outbox/audit.hpp"
#include "daemon/outbox/outbox.hpp"

namespace sscard::daemon {

outbox::CardRef cardRef(const ssse::CardInfo& card);

class EventRecorder {
  public:
    // Either pointer may be null (nothing of that kind is recorded; no outbox: no backend). Both
    // must outlive this.
    EventRecorder(outbox::Outbox* outbox, outbox::AuditLog* audit, std::size_t max_queued = 10'000);
    ~EventRecorder();  // stop()

    // A decision on a card: audited, and queued for the backend as card.checked. Asynchronous.
    void decision(const std::string& reader, const ssse::CardInfo& card,
                  const blacklist::Decision& decision);
    // An event that only the audit log keeps (card.removed, a failed check, a refused or failed
    // flow); `card` may be null, `code` is a contract error code or "". Asynchronous.
    void audit(const std::string& kind, const std::string& reader, const ssse::CardInfo* card,
               const std::string& code);
    // A backend event (card.activated, pin.changed, …): stored in the outbox before this returns,
    // then audited with its event_id (asynchronously). `extra` goes into the event's top level;
    // `auditCode` into the audit row.
    Expected<std::string, Error> backendEvent(const std::string& type, const std::string& reader,
                                              const ssse::CardInfo& card, nlohmann::json extra,
                                              const std::string& auditCode = "");

    // backendEvent for an event about a PIN the card already holds (pin.changed, pin.reset,
    // pin.unblocked, card.activated): when it cannot be stored, the call that changed the PIN must
    // fail rather than answer ok with no event, so the error (internal) says that the card did
    // change and carries pin_state "changed".
    Expected<std::string, Error> pinEvent(const std::string& type, const std::string& reader,
                                          const ssse::CardInfo& card, nlohmann::json extra,
                                          const std::string& auditCode = "");

    // Prunes the audit log on the writer thread (old and surplus rows), as of `at` (the
    // AuditClock's trusted time).
    void pruneAudit(outbox::TimePoint at);

    struct Stats {
        std::size_t queued = 0;     // writes waiting for the writer thread
        std::uint64_t dropped = 0;  // writes dropped because the queue was full
    };
    Stats stats() const;
    // Finishes the queued writes. Idempotent.
    void stop();

  private:
    void write(outbox::AuditRecord record, bool toBackend);
    void noteOutboxBound();

    outbox::Outbox* outbox_;
    outbox::AuditLog* audit_;
    WorkerPool writer_;  // one thread: writes stay in order
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> warnedDrops_{0};
    std::atomic<std::uint64_t> warnedOverBound_{0};
};

}  // namespace sscard::daemon
