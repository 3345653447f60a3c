// A card in the field of a libnfc device, as a CardConnection. APDUs go out with
// nfc_initiator_transceive_bytes (ISO 14443-4 framing by the PN53x); commands longer than libnfc
// can carry are refused before it sees them (iso14443.hpp).
#pragma once

#include <memory>
#include <string>

#include "apdu/nfc/device.hpp"
#include "apdu/transport.hpp"

namespace sscard::apdu::nfc {

class NfcCard final : public CardConnection {
  public:
    NfcCard(std::shared_ptr<NfcDevice> device, FieldCard card);

    const std::string& readerName() const override { return device_->readerName(); }
    // The PC/SC part 3 pseudo-ATR built from the ATS's historical bytes.
    const Bytes& atr() const override { return card_.atr; }
    Protocol protocol() const override { return Protocol::contactless; }
    Interface interface() const override { return Interface::contactless; }

    const FieldCard& fieldCard() const { return card_; }

  protected:
    // card_removed when another card (or none) is in the field now; reader_gone when the device
    // died. While the transaction is held the device's monitor makes no presence checks.
    Expected<void, TransportError> beginTransaction() override;
    void endTransaction() noexcept override;
    // refused (before libnfc) for 263 bytes or more; card_removed when the card left; reader_gone
    // on a device I/O error; timeout when the device did not answer in time. After reader_gone and
    // timeout the device is re-opened by its next poll.
    Expected<Bytes, TransportError> transmitRaw(ByteView command) override;

  private:
    std::shared_ptr<NfcDevice> device_;
    FieldCard card_;
};

}  // namespace sscard::apdu::nfc
