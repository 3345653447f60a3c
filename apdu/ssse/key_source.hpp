// Where the issuer's keys live (a PSAM, or a software key file in labs): the card-side cryptograms
// and session keys that issuer operations need, without the keys ever leaving the source.
#pragma once

#include <memory>
#include <string_view>

#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// A session key inside a key source (PSAM or software): it never leaves the source.
class KeySession {
  public:
    virtual ~KeySession() = default;
    // The PIN block (digit count ‖ BCD ‖ 80 00…) encrypted under the session key.
    virtual Expected<Bytes, Error> encryptPinBlock(const SecretPin& pin) = 0;
    // The card's 4-byte MAC over `message` (padding method 2 applied by the source).
    virtual Expected<Bytes, Error> mac(ByteView message) = 0;
    // `blocks` (a multiple of the cipher's block) encrypted ECB under the session key: with a
    // process factor as the challenge, the internal-authentication result and the read key's
    // external-authentication cryptogram (docs/card.md#internal-and-external-authentication).
    virtual Expected<Bytes, Error> encrypt(ByteView blocks) = 0;
};

class KeySource {
  public:
    virtual ~KeySource() = default;
    virtual std::string_view name() const = 0;
    // EXTERNAL AUTHENTICATE cryptogram (8 bytes) for the card's challenge, under the card's
    // diversified `purpose` key.
    virtual Expected<Bytes, Error> authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                                  ByteView challenge) = 0;
    // A session key E(challenge ‖ 00…) under the card's diversified `purpose` key.
    virtual Expected<std::unique_ptr<KeySession>, Error> openSession(KeyPurpose purpose,
                                                                     const CardKeyContext& card,
                                                                     ByteView challenge) = 0;
};

}  // namespace sscard::ssse
