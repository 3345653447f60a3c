#include "daemon/service/event_recorder.hpp"

#include "daemon/log.hpp"

namespace sscard::daemon {

namespace {

outbox::AuditRecord auditRecord(const std::string& kind, const std::string& reader,
                                const ssse::CardInfo* card, const std::string& code) {
    outbox::AuditRecord r;
    r.at = outbox::now();
    r.kind = kind;
    r.reader = reader;
    if (card != nullptr) r.card = cardRef(*card);
    r.code = code;
    return r;
}

// Whether a count that went from `before` to `now` crossed 1, 10, 100, ...: warnings for a count
// that keeps growing, without one line per event.
bool crossedPowerOfTen(std::uint64_t before, std::uint64_t now) {
    for (std::uint64_t p = 1; p != 0 && p <= now; p *= 10)
        if (before < p) return true;
    return false;
}

}  // namespace

outbox::CardRef cardRef(const ssse::CardInfo& card) {
    return {card.card_id.value_or(""), card.region.value_or(""), card.card_number.value_or("")};
}

EventRecorder::EventRecorder(outbox::Outbox* outbox, outbox::AuditLog* audit,
                             std::size_t max_queued)
    : outbox_(outbox), audit_(audit), writer_(WorkerPoolOptions{1, max_queued}) {}

EventRecorder::~EventRecorder() {
    stop();
}

void EventRecorder::decision(const std::string& reader, const ssse::CardInfo& card,
                             const blacklist::Decision& decision) {
    auto r = auditRecord("card.checked", reader, &card, "");
    r.decision = decision.allow ? "allow" : "deny";
    r.reason = std::string(blacklist::reasonName(decision.reason));
    if (decision.list) {
        r.list_version = decision.list->version;
        r.list_age_s = decision.list->age_s;
    }
    write(std::move(r), true);
}

void EventRecorder::audit(const std::string& kind, const std::string& reader,
                          const ssse::CardInfo* card, const std::string& code) {
    write(auditRecord(kind, reader, card, code), false);
}

Expected<std::string, Error> EventRecorder::backendEvent(const std::string& type,
                                                         const std::string& reader,
                                                         const ssse::CardInfo& card,
                                                         nlohmann::json extra,
                                                         const std::string& auditCode) {
    if (extra.is_null()) extra = nlohmann::json::object();
    extra["reader"] = reader;
    // No backend: nothing to queue; the id names the audit row.
    auto id =
        outbox_ != nullptr ? outbox_->enqueue(type, cardRef(card), extra) : outbox::newUuidV4();
    if (outbox_ != nullptr) noteOutboxBound();
    auto r = auditRecord(type, reader, &card, auditCode);
    if (id) r.event_id = *id;
    write(std::move(r), false);
    if (!id) logError("outbox: " + errorText(id.error()));
    return id;
}

Expected<std::string, Error> EventRecorder::pinEvent(const std::string& type,
                                                     const std::string& reader,
                                                     const ssse::CardInfo& card,
                                                     nlohmann::json extra,
                                                     const std::string& auditCode) {
    auto id = backendEvent(type, reader, card, std::move(extra), auditCode);
    if (id) return id;
    Error e = makeError(ErrorCode::internal,
                        "the card's PIN state changed, but the " + type +
                            " event could not be stored for the backend: " + id.error().message);
    e.pin_state = "changed";
    return unexpected(std::move(e));
}

void EventRecorder::noteOutboxBound() {
    auto b = outbox_->boundStats();
    auto before = warnedOverBound_.exchange(b.over_bound);
    if (crossedPowerOfTen(before, b.over_bound)) {
        logWarn("outbox: " + std::to_string(b.over_bound) +
                " activation or PIN event(s) stored beyond [backend] max_events (" +
                std::to_string(b.max_events) + "); is the backend reachable?");
    }
    before = warnedDrops_.exchange(b.dropped);
    if (crossedPowerOfTen(before, b.dropped)) {
        logWarn("outbox: full at [backend] max_events (" + std::to_string(b.max_events) + "); " +
                std::to_string(b.dropped) + " card.checked event(s) dropped, oldest first");
    }
}

EventRecorder::Stats EventRecorder::stats() const {
    return {writer_.queued(), dropped_.load()};
}

void EventRecorder::write(outbox::AuditRecord r, bool toBackend) {
    if (audit_ == nullptr) return;
    bool posted = writer_.post([this, r = std::move(r), toBackend]() mutable {
        if (toBackend && outbox_ != nullptr) {
            nlohmann::json extra{{"reader", r.reader},
                                 {"decision", r.decision},
                                 {"reason", r.reason},
                                 {"list_version", r.list_version ? nlohmann::json(*r.list_version)
                                                                 : nlohmann::json(nullptr)}};
            auto id = outbox_->enqueue("card.checked", r.card, extra);
            if (id) {
                r.event_id = *id;
            } else if (id.error().code != ErrorCode::busy) {  // busy: dropped at the bound
                logError("outbox: " + errorText(id.error()));
            }
            noteOutboxBound();
        }
        if (auto a = audit_->record(r); !a) logError("audit: " + errorText(a.error()));
    });
    if (!posted) {
        auto n = ++dropped_;
        if (crossedPowerOfTen(n - 1, n))
            logWarn("event writer: queue full; " + std::to_string(n) +
                    " audit write(s) dropped (the disk is slower than the events)");
    }
}

void EventRecorder::pruneAudit(outbox::TimePoint at) {
    if (audit_ == nullptr) return;
    (void)writer_.post([this, at] {
        if (auto pruned = audit_->prune(at); !pruned)
            logWarn("audit pruning: " + errorText(pruned.error()));
    });
}

void EventRecorder::stop() {
    writer_.stop();
}

}  // namespace sscard::daemon
