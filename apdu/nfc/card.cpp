#include "apdu/nfc/card.hpp"

#include <utility>

namespace sscard::apdu::nfc {

NfcCard::NfcCard(std::shared_ptr<NfcDevice> device, FieldCard card)
    : device_(std::move(device)), card_(std::move(card)) {}

Expected<void, TransportError> NfcCard::beginTransaction() {
    return device_->beginTransaction(card_.session);
}

void NfcCard::endTransaction() noexcept {
    device_->endTransaction(card_.session);
}

Expected<Bytes, TransportError> NfcCard::transmitRaw(ByteView command) {
    return device_->transceive(card_.session, command);
}

}  // namespace sscard::apdu::nfc
