// A libnfc device as a ReaderProvider: one contactless reader per device.
//
// Reader names: "NFC <n> (<connection string>)", n being the device's position in [nfc] devices,
// e.g. "NFC 0 (pn532_uart:/dev/ttyS0)". Card presence means an ISO 14443-A target that answered
// RATS (ISO 14443-4); its ATR is the PC/SC part 3 pseudo-ATR from the ATS, the same a PC/SC
// contactless reader would show.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "apdu/nfc/card.hpp"
#include "apdu/nfc/device.hpp"
#include "apdu/reader.hpp"

namespace sscard::apdu::nfc {

// "NFC 0 (pn532_uart:/dev/ttyS0)"
std::string readerNameFor(std::size_t index, const std::string& connstring);

// Thread-safe (the device serialises).
class NfcReaderProvider final : public ReaderProvider {
  public:
    explicit NfcReaderProvider(std::shared_ptr<NfcDevice> device);
    // NfcDevice::shared(connstring, readerNameFor(index, connstring))
    NfcReaderProvider(std::size_t index, const std::string& connstring);

    // The device's one reader with its card state. reader_gone when the device cannot be opened
    // or does not answer (the directory then leaves it out with a warning).
    Expected<std::vector<ReaderInfo>, TransportError> listReaders() override;

    // reader_gone for another name; card_removed when no card is in the field.
    Expected<std::unique_ptr<CardConnection>, TransportError> connect(
        const std::string& readerName) override;

    // The same, typed.
    Expected<std::unique_ptr<NfcCard>, TransportError> connectCard(const std::string& readerName);

    const std::shared_ptr<NfcDevice>& device() const { return device_; }

  private:
    std::shared_ptr<NfcDevice> device_;
};

}  // namespace sscard::apdu::nfc
