// The holder's PIN commands on the social security application (docs/card.md): VERIFY, the retry
// counter, CHANGE PIN, with the PIN from the host or typed on the reader's PIN pad (PC/SC part 10).
//
// Every function runs inside the caller's Transaction, after SsseApplication::select(). Outcomes
// are Error values: pin_wrong (tries_left), pin_blocked, card_removed, card_error, … The APDU trace
// masks the data of INS 20/24/2C/5E (apdu/trace.cpp).
#pragma once

#include <optional>

#include "apdu/pinpad.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/transport.hpp"
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

// The connection's PIN pad (apdu/pinpad.hpp), or nullopt when it has none or its PIN pad cannot
// VERIFY. An error (card_removed, no_reader) only when the card or the service went away.
Expected<std::optional<apdu::PinpadFeatures>, Error> pinpadFeatures(
    apdu::CardConnection& connection);

// The PIN typed on the reader's PIN pad, which fills it into VERIFY 00 20 00 00 Lc FF… or CHANGE
// PIN 80 5E 01 00 Lc FF… ‖ FF ‖ FF… (asking for the current PIN and the new one twice) as `format`
// says; cards that want an exact Lc need minDigits == maxDigits. Outcomes as verifyPin/changePin,
// plus card_error for the reader's 6400 (timeout), 6401 (cancelled), 6402 (new PINs differ), 6403
// (wrong length); not_allowed when `features` lacks the operation.
Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const apdu::PinpadFeatures& features,
                                        const apdu::PinEntryFormat& format);
Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const apdu::PinpadFeatures& features,
                                        const apdu::PinEntryFormat& format);

}  // namespace sscard::ssse
