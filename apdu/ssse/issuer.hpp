// Issuer operations with secure messaging (docs/card.md): the PIN reset and unblock, authenticated
// with the PUK key of a key source (PSAM or software key file).
//
// Both run inside the caller's Transaction, after SsseApplication::select() and readCardCipher().
// The APDU trace masks the data of INS 24 (apdu/trace.cpp).
#pragma once

#include <cstdint>

#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/key_source.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/transport.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

struct IssuerKeyIds {
    std::uint8_t puk = 0x01;  // EXTERNAL AUTHENTICATE P2 for the PUK (configuration)
};

// Issuer PIN reset (重置): GET CHALLENGE, EXTERNAL AUTHENTICATE with the PUK key
// (00 82 00 <puk id> 10 <cryptogram 8> <terminal random 8>), GET CHALLENGE, then
// 84 24 00 01 Lc <PIN block encrypted under the session key> <MAC over 84 24 00 01 Lc ‖ block>.
// `card` from cardKeyContext() (EF05 card id, ATR). Outcomes: ok; card_error with the step named
// (authentication refused 6300/63Cx, key missing 6A88, MAC refused 6988, …); card_removed; the key
// source's errors. The card's counter is reset by the card along with the PIN.
Expected<void, Error> resetPin(apdu::Transaction& tx, const SecretPin& newPin, KeySource& keys,
                               const CardKeyContext& card, const IssuerKeyIds& ids = {});

// Issuer PIN unblock: the same authentication, then 84 24 00 00 04 <MAC>: the retry counter is
// reset, the PIN stays.
Expected<void, Error> unblockPin(apdu::Transaction& tx, KeySource& keys, const CardKeyContext& card,
                                 const IssuerKeyIds& ids = {});

}  // namespace sscard::ssse
