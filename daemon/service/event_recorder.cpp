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

}  // namespace

outbox::CardRef cardRef(const ssse::CardInfo& card) {
    return {card.card_id.value_or(""), card.region.value_or(""), card.card_number.value_or("")};
}

EventRecorder::EventRecorder(outbox::Outbox* outbox, outbox::AuditLog* audit)
    : outbox_(outbox), audit_(audit) {}

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
    if (outbox_ == nullptr) {
        return unexpected(makeError(ErrorCode::internal, "the outbox is not open"));
    }
    if (extra.is_null()) extra = nlohmann::json::object();
    extra["reader"] = reader;
    auto id = outbox_->enqueue(type, cardRef(card), extra);
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

void EventRecorder::write(outbox::AuditRecord r, bool toBackend) {
    if (audit_ == nullptr) return;
    writer_.post([this, r = std::move(r), toBackend]() mutable {
        if (toBackend && outbox_ != nullptr) {
            nlohmann::json extra{{"reader", r.reader},
                                 {"decision", r.decision},
                                 {"reason", r.reason},
                                 {"list_version", r.list_version ? nlohmann::json(*r.list_version)
                                                                 : nlohmann::json(nullptr)}};
            if (auto id = outbox_->enqueue("card.checked", r.card, extra))
                r.event_id = *id;
            else
                logError("outbox: " + errorText(id.error()));
        }
        if (auto a = audit_->record(r); !a) logError("audit: " + errorText(a.error()));
    });
}

void EventRecorder::pruneAudit() {
    if (audit_ == nullptr) return;
    writer_.post([this] {
        if (auto pruned = audit_->prune(outbox::now()); !pruned)
            logWarn("audit pruning: " + errorText(pruned.error()));
    });
}

void EventRecorder::stop() {
    writer_.stop();
}

}  // namespace sscard::daemon
