// Readers with a PIN pad: the optional capability of a card connection to have the holder type a
// PIN on the reader, which puts it into a command for the card; the PIN never reaches the host. A
// connection that offers it derives from PinpadCapable as well as CardConnection; callers find it
// with dynamic_cast. The PC/SC transport implements it with PC/SC part 10 (apdu/pcsc/pinpad.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

// What the reader's PIN pad can do.
struct PinpadFeatures {
    bool verifyPinDirect = false;  // enter a PIN into one command
    bool modifyPinDirect = false;  // enter the current PIN and a new one (twice) into one command
};

// How the reader asks for a PIN and writes it into the command: BCD, left-justified in a block of
// blockBytes() bytes that the command holds pre-set to FF, so that a shorter or odd-length PIN ends
// in F padding.
struct PinEntryFormat {
    std::size_t minDigits = 6;
    std::size_t maxDigits = 6;
    std::uint8_t timeoutSeconds = 30;
    std::uint16_t langId = 0x0804;  // zh-CN, for the reader's prompts

    std::size_t blockBytes() const { return (maxDigits + 1) / 2; }
};

// The command holds one PIN block at the start of its data.
struct PinVerifyRequest {
    PinEntryFormat format;
    Bytes command;
};

// The command holds the current PIN's block and the new PIN's block, at these offsets of its data.
struct PinModifyRequest {
    PinEntryFormat format;
    Bytes command;
    std::uint8_t currentPinOffset = 0;
    std::uint8_t newPinOffset = 0;
};

class PinpadCapable {
  public:
    virtual ~PinpadCapable() = default;
    // None when the reader has no PIN pad; an error only when the card, the reader or the service
    // went away while asking.
    virtual Expected<PinpadFeatures, TransportError> pinpadFeatures() = 0;
    // The reader asks for the PIN(s), sends the completed command to the card and answers SW1 SW2:
    // the card's, or the reader's own 6400 (timeout), 6401 (cancelled), 6402 (the new PIN entries
    // differ), 6403 (PIN of the wrong length). Call them inside a Transaction on the same card.
    virtual Expected<Bytes, TransportError> verifyPinDirect(const PinVerifyRequest& request) = 0;
    virtual Expected<Bytes, TransportError> modifyPinDirect(const PinModifyRequest& request) = 0;
};

}  // namespace sscard::apdu
