// The holder's PIN commands on the social security application (docs/card.md): VERIFY, the retry
// counter, CHANGE PIN, with the PIN from the host or typed on the reader's PIN pad (PC/SC part 10).
//
// Every function runs inside the caller's Transaction, after SsseApplication::select(). Outcomes
// are Error values: pin_wrong (tries_left), pin_blocked, card_removed, card_error, … The APDU trace
// masks the data of INS 20/24/2C/5E (apdu/trace.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "apdu/pinpad.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// VERIFY 00 20 00 00 Lc BCD. ok; pin_wrong with tries_left (63Cx, x > 0); pin_blocked (6983, or
// 63C0: the attempt that used the last try); card_removed; card_error.
Expected<void, Error> verifyPin(apdu::Transaction& tx, const SecretPin& pin);

// VERIFY without data: the retry counter. 63Cx -> x; 6983 -> 0; nullopt when the card answers 9000
// without a count (some cards, after a successful VERIFY).
Expected<std::optional<int>, Error> pinTriesLeft(apdu::Transaction& tx);

// CHANGE PIN 80 5E 01 00 Lc old ‖ FF ‖ new (plaintext; the card resets the counter). The same
// outcomes as verifyPin for a wrong old PIN. The new PIN is not checked against a policy here.
Expected<void, Error> changePin(apdu::Transaction& tx, const SecretPin& oldPin,
                                const SecretPin& newPin);

// Pinpad readers (PC/SC part 10). Built and unit-tested against a fake; no real pinpad reader was
// available, so none of this has been tried on hardware.

inline constexpr std::uint8_t kFeatureVerifyPinDirect = 0x06;
inline constexpr std::uint8_t kFeatureModifyPinDirect = 0x07;

// CM_IOCTL_GET_FEATURE_REQUEST answer: TLV of tag (1), length 4, control code big-endian.
// Malformed entries end the parse (what came before is kept).
std::map<std::uint8_t, std::uint32_t> parseFeatures(ByteView tlv);

struct PinpadParams {
    std::size_t minDigits = 6;
    std::size_t maxDigits = 6;
    std::uint8_t timeoutSeconds = 30;
    std::uint16_t langId = 0x0804;  // zh-CN
};

// The PIN block the reader fills: BCD left-justified in ceil(maxDigits/2) bytes pre-set to FF, so
// that an odd or shorter PIN ends in F padding (cards that want an exact Lc need min == max).
// PIN_VERIFY_STRUCTURE for 00 20 00 00 Lc FF…
Bytes buildVerifyPinStructure(const PinpadParams& params);
// PIN_MODIFY_STRUCTURE for 80 5E 01 00 Lc FF… ‖ FF ‖ FF…: asks for the current PIN and the new PIN
// twice.
Bytes buildModifyPinStructure(const PinpadParams& params);

// The feature codes of a pinpad reader, or nullopt when the connection has no pinpad.
struct PinpadFeatures {
    std::uint32_t verifyPinDirect = 0;
    std::uint32_t modifyPinDirect = 0;  // 0: not offered
};
Expected<std::optional<PinpadFeatures>, Error> pinpadFeatures(apdu::CardConnection& connection);

// The PIN typed on the reader. Outcomes as verifyPin/changePin, plus card_error for the reader's
// 6400 (timeout), 6401 (cancelled), 6402 (new PINs differ), 6403 (wrong length).
Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params);
Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params);

}  // namespace sscard::ssse
