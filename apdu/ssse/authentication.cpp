#include "apdu/ssse/authentication.hpp"

#include <openssl/crypto.h>

#include <string>

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
#include "apdu/ssse/exchange.hpp"

namespace sscard::ssse {

namespace {

constexpr std::size_t kChallengeLength = 8;

Expected<void, Error> challengeInto(apdu::Transaction& tx, Bytes& out) {
    auto c = getChallenge(tx, kChallengeLength);
    if (!c) return unexpected(std::move(c).error());
    out = std::move(*c);
    return {};
}

}  // namespace

Expected<Bytes, Error> getChallenge(apdu::Transaction& tx, std::size_t length) {
    apdu::CommandApdu cmd{.cla = 0x00, .ins = 0x84, .p1 = 0, .p2 = 0, .data = {}, .le = length};
    auto r = send(tx, cmd, "GET CHALLENGE");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok() || r->data.size() != length) {
        return unexpected(
            r->ok() ? makeError(ErrorCode::card_error, "GET CHALLENGE: answer of the wrong length")
                    : apdu::fromStatusWord(r->sw(), "GET CHALLENGE"));
    }
    return std::move(r->data);
}

Expected<void, Error> runInternalChallenge(apdu::Transaction& tx, const AuthKeyIds& ids,
                                           AuthChallenges& out) {
    if (auto c = challengeInto(tx, out.internalRandom); !c) return c;
    if (auto c = challengeInto(tx, out.internalFactor); !c) return c;
    apdu::CommandApdu cmd{.cla = 0x00,
                          .ins = 0x88,
                          .p1 = 0x00,
                          .p2 = ids.internal,
                          .data = concat(out.internalFactor, out.internalRandom),
                          .le = kChallengeLength};
    auto r = send(tx, cmd, "INTERNAL AUTHENTICATE");
    if (!r) return unexpected(std::move(r).error());
    if (r->sw() == 0x6A88 || r->sw() == 0x6A83) {
        return unexpected(makeError(ErrorCode::card_error,
                                    "INTERNAL AUTHENTICATE: the card has no key " +
                                        toHex(Bytes{ids.internal}) + " (" + swHex(r->sw()) +
                                        "); check [keys] card_internal_id"));
    }
    if (!r->ok()) return unexpected(apdu::fromStatusWord(r->sw(), "INTERNAL AUTHENTICATE"));
    if (r->data.size() < kChallengeLength) {
        return unexpected(
            makeError(ErrorCode::card_error, "INTERNAL AUTHENTICATE: answer shorter than 8 bytes"));
    }
    out.internalAnswer.assign(r->data.begin(), r->data.begin() + kChallengeLength);
    return {};
}

Expected<void, Error> runExternalChallenge(apdu::Transaction& tx, AuthChallenges& out) {
    if (auto c = challengeInto(tx, out.externalRandom); !c) return c;
    return challengeInto(tx, out.externalFactor);
}

Bytes authenticationBlock(ByteView random8) {
    Bytes block(random8.begin(), random8.end());
    block.resize(16, 0x00);
    return block;
}

Expected<void, Error> checkInternalAnswer(ByteView cardAnswer, ByteView expected) {
    if (cardAnswer.size() == kChallengeLength && expected.size() >= kChallengeLength &&
        CRYPTO_memcmp(cardAnswer.data(), expected.data(), kChallengeLength) == 0)
        return {};
    return unexpected(makeError(ErrorCode::card_not_genuine,
                                "the card's internal authentication does not match the issuer's "
                                "key: a copied card, or keys of another issuer"));
}

Expected<void, Error> externalAuthenticate(apdu::Transaction& tx, const AuthKeyIds& ids,
                                           ByteView cryptogram16) {
    if (cryptogram16.size() != 16) {
        return unexpected(makeError(ErrorCode::usage, "the external cryptogram must be 16 bytes"));
    }
    apdu::CommandApdu cmd{.cla = 0x00,
                          .ins = 0x82,
                          .p1 = 0x00,
                          .p2 = ids.read,
                          .data = Bytes(cryptogram16.begin(), cryptogram16.end()),
                          .le = std::nullopt};
    auto r = send(tx, cmd, "EXTERNAL AUTHENTICATE with the read key");
    if (!r) return unexpected(std::move(r).error());
    const std::uint16_t sw = r->sw();
    if (r->ok()) return {};
    if ((sw & 0xFFF0) == 0x63C0) {
        Error e = makeError(ErrorCode::auth_failed,
                            "the card refused the read key's cryptogram (" + swHex(sw) +
                                "): the key holder has other keys for this card");
        e.tries_left = sw & 0x0F;
        return unexpected(std::move(e));
    }
    if (sw == 0x6983) {
        Error e = makeError(ErrorCode::auth_failed,
                            "the card's read key is blocked after too many failed external "
                            "authentications (6983)");
        e.tries_left = 0;
        e.reason = "key_blocked";
        return unexpected(std::move(e));
    }
    if (sw == 0x6300) {
        return unexpected(
            makeError(ErrorCode::auth_failed, "the card refused the read key's cryptogram (6300)"));
    }
    if (sw == 0x6985) {
        return unexpected(
            makeError(ErrorCode::auth_failed,
                      "the card no longer holds the challenges of this "
                      "authentication (6985): another command reached it in between"));
    }
    if (sw == 0x6A88 || sw == 0x6A83) {
        return unexpected(
            makeError(ErrorCode::card_error, "EXTERNAL AUTHENTICATE: the card has no key " +
                                                 toHex(Bytes{ids.read}) + " (" + swHex(sw) +
                                                 "); check [keys] card_read_id"));
    }
    return unexpected(apdu::fromStatusWord(sw, "EXTERNAL AUTHENTICATE with the read key"));
}

namespace {

// The key source's answer for one authentication: E(random ‖ 00×8) under the process key.
Expected<Bytes, Error> processKeyAnswer(KeySource& keys, KeyPurpose purpose,
                                        const CardKeyContext& card, ByteView factor,
                                        ByteView random) {
    auto session = keys.openSession(purpose, card, factor);
    if (!session) return unexpected(std::move(session).error());
    return (*session)->encrypt(authenticationBlock(random));
}

}  // namespace

Expected<void, Error> verifyChipWithKeys(apdu::Transaction& tx, KeySource& keys,
                                         const CardKeyContext& card, const AuthKeyIds& ids) {
    AuthChallenges c;
    if (auto r = runInternalChallenge(tx, ids, c); !r) return r;
    auto expected =
        processKeyAnswer(keys, KeyPurpose::internal, card, c.internalFactor, c.internalRandom);
    if (!expected) return unexpected(std::move(expected).error());
    return checkInternalAnswer(c.internalAnswer, *expected);
}

Expected<void, Error> authenticateWithKeys(apdu::Transaction& tx, KeySource& keys,
                                           const CardKeyContext& card, const AuthKeyIds& ids) {
    if (auto chip = verifyChipWithKeys(tx, keys, card, ids); !chip) return chip;
    AuthChallenges c;
    if (auto r = runExternalChallenge(tx, c); !r) return r;
    // The key source works on its own connection (the PSAM), so nothing reaches the card between
    // the two challenges and EXTERNAL AUTHENTICATE.
    auto cryptogram =
        processKeyAnswer(keys, KeyPurpose::read, card, c.externalFactor, c.externalRandom);
    if (!cryptogram) return unexpected(std::move(cryptogram).error());
    return externalAuthenticate(tx, ids, *cryptogram);
}

}  // namespace sscard::ssse
