// Card authentication on 3rd-generation cards (docs/card.md#internal-and-external-authentication):
// INTERNAL AUTHENTICATE, by which the chip proves it holds the issuer's key IAK (a copied card does
// not), and EXTERNAL AUTHENTICATE with the read key RKSSSE, by which the terminal earns the right
// to read the protected holder data. Both use a process key: E(process factor ‖ 00…) under the
// card's diversified key, the factor being an 8-byte GET CHALLENGE answer.
//
// The challenges come in a fixed order, and the card remembers only the last two GET CHALLENGE
// answers for EXTERNAL AUTHENTICATE: nothing else may be sent between those and the authentication.
#pragma once

#include <cstdint>

#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/key_source.hpp"
#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// GET CHALLENGE (00 84 00 00 Le): `length` random bytes from the card.
Expected<Bytes, Error> getChallenge(apdu::Transaction& tx, std::size_t length);

// The card's key ids (configuration: issuers differ).
struct AuthKeyIds {
    std::uint8_t internal = 0x09;  // IAK: INTERNAL AUTHENTICATE P2
    std::uint8_t read = 0x0A;      // RKSSSE: EXTERNAL AUTHENTICATE P2
};

// What the card gave for both authentications, in the order it was asked (step 1 of the HSM read):
// GET CHALLENGE → internal random, GET CHALLENGE → internal factor, INTERNAL AUTHENTICATE
// (factor ‖ random) → the card's 8-byte answer, then GET CHALLENGE → external random, GET
// CHALLENGE → external factor. All 8 bytes each.
struct AuthChallenges {
    Bytes internalRandom;
    Bytes internalFactor;
    Bytes internalAnswer;
    Bytes externalRandom;
    Bytes externalFactor;
};

// The internal half only (three or four APDUs): random, factor, INTERNAL AUTHENTICATE.
Expected<void, Error> runInternalChallenge(apdu::Transaction& tx, const AuthKeyIds& ids,
                                           AuthChallenges& out);
// The external half only (two APDUs): random, factor. EXTERNAL AUTHENTICATE must follow directly.
Expected<void, Error> runExternalChallenge(apdu::Transaction& tx, AuthChallenges& out);

// The 16-byte block both authentications encrypt: random ‖ 00×8.
Bytes authenticationBlock(ByteView random8);

// Compares the card's internal answer with the key holder's expected result (its first 8 bytes):
// card_not_genuine on a mismatch.
Expected<void, Error> checkInternalAnswer(ByteView cardAnswer, ByteView expected);

// EXTERNAL AUTHENTICATE with the read key: 00 82 00 <read id> 10 <cryptogram>. A refusal is
// auth_failed, with tries_left from 63Cx, and reason "key_blocked" once the card answers 6983.
// Never retried here: each failure costs one of the card's tries.
Expected<void, Error> externalAuthenticate(apdu::Transaction& tx, const AuthKeyIds& ids,
                                           ByteView cryptogram16);

// Both authentications with the keys of a key source (a PSAM, or a lab key file): the source
// computes the expected internal result (compared here) and the external cryptogram. On success the
// card's protected data may be read in the same transaction.
Expected<void, Error> authenticateWithKeys(apdu::Transaction& tx, KeySource& keys,
                                           const CardKeyContext& card, const AuthKeyIds& ids);
// Internal authentication alone (is the chip genuine?), with a key source.
Expected<void, Error> verifyChipWithKeys(apdu::Transaction& tx, KeySource& keys,
                                         const CardKeyContext& card, const AuthKeyIds& ids);

}  // namespace sscard::ssse
