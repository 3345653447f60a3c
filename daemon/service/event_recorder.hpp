// Where the service's card events and decisions go: the audit log always; the backend outbox for
// the events the backend receives (card.checked decisions, activations, PIN changes, resets).
//
// Decisions and plain card events are written on one writer thread, in order, after the answer has
// gone out: an outbox write waits for an fsync (synchronous=FULL, ~4 ms), which must not delay
// card.checked. Backend events of the PIN flows are stored before the flow answers, because the
// answer carries their event_id.
#pragma once

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
    // Either pointer may be null (nothing of that kind is recorded). Both must outlive this.
    EventRecorder(outbox::Outbox* outbox, outbox::AuditLog* audit);
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

    // Prunes the audit log on the writer thread (old and surplus rows).
    void pruneAudit();
    // Finishes the queued writes. Idempotent.
    void stop();

  private:
    void write(outbox::AuditRecord record, bool toBackend);

    outbox::Outbox* outbox_;
    outbox::AuditLog* audit_;
    WorkerPool writer_{WorkerPoolOptions{1, 0}};  // one thread: writes stay in order
};

}  // namespace sscard::daemon
