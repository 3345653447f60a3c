#include "daemon/service/sam_slot.hpp"

#include <utility>

#include "apdu/outcome.hpp"
#include "apdu/pcsc/card.hpp"
#include "daemon/log.hpp"

namespace sscard::daemon {

SamSlot::SamSlot(std::string reader, Connector connect, std::chrono::milliseconds wait)
    : reader_(std::move(reader)), connect_(std::move(connect)), wait_(wait) {}

SamSlot::Connector SamSlot::exclusivePcsc(const std::string& reader) {
    return [reader]() -> Expected<std::unique_ptr<apdu::CardConnection>, Error> {
        apdu::pcsc::ConnectOptions options;
        // A program holding the slot is reported at once; the next tick or use tries again.
        options.sharingRetry = std::chrono::milliseconds(0);
        options.exclusive = true;
        auto card = apdu::pcsc::PcscCard::connect(reader, options);
        if (card) return std::unique_ptr<apdu::CardConnection>(std::move(*card));
        using K = apdu::TransportErrorKind;
        switch (card.error().kind) {
            case K::card_removed:
                return unexpected(makeError(ErrorCode::no_card, "no PSAM in " + reader));
            case K::reader_gone:
                return unexpected(makeError(ErrorCode::no_reader,
                                            "no reader named \"" + reader + "\" for the PSAM"));
            case K::sharing_violation:
                return unexpected(makeError(ErrorCode::busy, "another program holds the PSAM in " +
                                                                 reader + " exclusively"));
            default:
                return unexpected(
                    apdu::fromTransport(card.error(), "connecting to the PSAM in " + reader));
        }
    };
}

void SamSlot::noteLocked(bool held, const std::string& why) {
    std::string note = held ? "PSAM in " + reader_ + " held exclusively by the service"
                            : "PSAM in " + reader_ + " not held: " + why;
    if (note == lastNote_) return;
    lastNote_ = note;
    if (held)
        logInfo(note);
    else
        logWarn(note);
}

Expected<void, Error> SamSlot::ensureConnectedLocked() {
    if (connection_) return {};
    auto connection = connect_();
    if (!connection) {
        noteLocked(false, errorText(connection.error()));
        Error e = connection.error();
        e.message = "the PSAM ([keys] psam_reader \"" + reader_ + "\"): " + e.message;
        return unexpected(std::move(e));
    }
    connection_ = std::move(*connection);
    noteLocked(true, "");
    return {};
}

void SamSlot::keepHeld() {
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock) return;  // a use is in progress: it checks the connection itself
    if (connection_) {
        if (auto probe = connection_->begin()) return;
        connection_.reset();
    }
    (void)ensureConnectedLocked();
}

void SamSlot::release() {
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock)
        return;  // the use in progress fails on the dead connection; the next one replaces it
    if (connection_) noteLocked(false, "the PSAM or its reader went away");
    connection_.reset();
}

bool SamSlot::held() {
    std::lock_guard lock(mutex_);
    return connection_ != nullptr;
}

Expected<void, Error> SamSlot::use(const Operation& op) {
    std::unique_lock lock(mutex_, std::defer_lock);
    if (!lock.try_lock_for(wait_)) {
        return unexpected(makeError(ErrorCode::busy,
                                    "the PSAM in " + reader_ + " is busy with another operation"));
    }
    for (int round = 0;; ++round) {
        if (auto connected = ensureConnectedLocked(); !connected) return connected;
        auto tx = connection_->begin();
        if (tx) return op(*connection_);
        // Pulled and reinserted, or pcscd restarted, since the connection was made.
        connection_.reset();
        if (round > 0) {
            return unexpected(apdu::fromTransport(
                tx.error(), "starting a transaction on the PSAM in " + reader_));
        }
    }
}

}  // namespace sscard::daemon
