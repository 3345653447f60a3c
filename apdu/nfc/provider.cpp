#include "apdu/nfc/provider.hpp"

#include <utility>

namespace sscard::apdu::nfc {

std::string readerNameFor(std::size_t index, const std::string& connstring) {
    return "NFC " + std::to_string(index) + " (" + connstring + ")";
}

NfcReaderProvider::NfcReaderProvider(std::shared_ptr<NfcDevice> device)
    : device_(std::move(device)) {}

NfcReaderProvider::NfcReaderProvider(std::size_t index, const std::string& connstring)
    : NfcReaderProvider(NfcDevice::shared(connstring, readerNameFor(index, connstring))) {}

Expected<std::vector<ReaderInfo>, TransportError> NfcReaderProvider::listReaders() {
    auto card = device_->poll();
    if (!card) return unexpected(std::move(card).error());
    ReaderInfo info;
    info.name = device_->readerName();
    info.interface = Interface::contactless;
    info.cardPresent = card->has_value();
    if (*card) info.atr = (*card)->atr;
    return std::vector<ReaderInfo>{std::move(info)};
}

Expected<std::unique_ptr<NfcCard>, TransportError> NfcReaderProvider::connectCard(
    const std::string& readerName) {
    if (readerName != device_->readerName()) {
        return unexpected(
            TransportError{TransportErrorKind::reader_gone, "no NFC reader named " + readerName});
    }
    auto card = device_->poll();
    if (!card) return unexpected(std::move(card).error());
    if (!*card) {
        return unexpected(TransportError{TransportErrorKind::card_removed,
                                         "no card in the field of " + readerName});
    }
    return std::make_unique<NfcCard>(device_, std::move(**card));
}

Expected<std::unique_ptr<CardConnection>, TransportError> NfcReaderProvider::connect(
    const std::string& readerName) {
    auto card = connectCard(readerName);
    if (!card) return unexpected(std::move(card).error());
    return std::unique_ptr<CardConnection>(std::move(*card));
}

}  // namespace sscard::apdu::nfc
