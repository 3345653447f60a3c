#include "apdu/ssse/issuer.hpp"

#include <algorithm>
#include <iterator>
#include <string>

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
#include "apdu/ssse/authentication.hpp"
#include "apdu/ssse/exchange.hpp"
#include "apdu/ssse/pin_outcome.hpp"
#include "crypto/random.hpp"
#include "crypto/wipe.hpp"

namespace sscard::ssse {

namespace {

Error withSw(Error e, std::uint16_t sw) {
    e.sw = sw;
    return e;
}

Error authRefused(std::uint16_t sw, std::string_view purpose) {
    std::string what = "EXTERNAL AUTHENTICATE with the " + std::string(purpose) + " key";
    if (sw == 0x6300 || (sw & 0xFFF0) == 0x63C0) {
        return withSw(makeError(ErrorCode::card_error,
                                what + " failed (" + swHex(sw) +
                                    "): the key source's key does not match this card"),
                      sw);
    }
    if (sw == 0x6A88 || sw == 0x6A83) {
        return withSw(
            makeError(ErrorCode::card_error, what + ": the card has no such key (" + swHex(sw) +
                                                 "); check the configured key id"),
            sw);
    }
    if (sw == 0x6983) {
        return withSw(
            makeError(ErrorCode::card_error, what + ": the key is locked on the card (6983)"), sw);
    }
    return apdu::fromStatusWord(sw, what);
}

// GET CHALLENGE + EXTERNAL AUTHENTICATE with the PUK key.
Expected<void, Error> authenticatePuk(apdu::Transaction& tx, KeySource& keys,
                                      const CardKeyContext& card, const IssuerKeyIds& ids) {
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unexpected(std::move(challenge).error());
    auto cryptogram = keys.authCryptogram(KeyPurpose::puk, card, *challenge);
    if (!cryptogram) return unexpected(std::move(cryptogram).error());
    if (cryptogram->size() != 8) {
        return unexpected(
            makeError(ErrorCode::internal, "the key source's cryptogram is not 8 bytes"));
    }
    // The terminal's random: a failing source stops the flow here, never zeros on the wire.
    auto terminalRandom = crypto::randomBytes(8);
    if (!terminalRandom) return unexpected(std::move(terminalRandom).error());
    apdu::CommandApdu cmd{.cla = 0x00,
                          .ins = 0x82,
                          .p1 = 0x00,
                          .p2 = ids.puk,
                          .data = concat(*cryptogram, *terminalRandom),
                          .le = std::nullopt};
    auto r = send(tx, cmd, "EXTERNAL AUTHENTICATE");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok()) return unexpected(authRefused(r->sw(), "PUK"));
    return {};
}

Error secureMessagingRefused(std::uint16_t sw, std::string_view step) {
    if (sw == 0x6988) {
        return withSw(makeError(ErrorCode::card_error,
                                std::string(step) + ": the card rejected the MAC (6988)"),
                      sw);
    }
    if (sw == 0x6982 || sw == 0x6985) {
        return withSw(makeError(ErrorCode::card_error,
                                std::string(step) + ": security conditions not satisfied (" +
                                    swHex(sw) + "): the PUK authentication did not hold"),
                      sw);
    }
    return apdu::fromStatusWord(sw, step);
}

}  // namespace

Expected<void, Error> resetPin(apdu::Transaction& tx, const SecretPin& newPin, KeySource& keys,
                               const CardKeyContext& card, const IssuerKeyIds& ids) {
    auto unchanged = [](Error e) { return unexpected(withPinState(std::move(e), kPinUnchanged)); };
    if (auto a = authenticatePuk(tx, keys, card, ids); !a) return unchanged(std::move(a).error());
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unchanged(std::move(challenge).error());
    auto session = keys.openSession(KeyPurpose::puk, card, *challenge);
    if (!session) return unchanged(std::move(session).error());
    auto block = (*session)->encryptPinBlock(newPin);
    if (!block) return unchanged(std::move(block).error());
    SecretCommand cmd{{.cla = 0x84,
                       .ins = 0x24,
                       .p1 = 0x00,
                       .p2 = 0x01,
                       .data = std::move(*block),
                       .le = std::nullopt}};
    const auto lc = static_cast<std::uint8_t>(cmd.apdu.data.size() + 4);
    // Sized once and filled in place: inserting into a 5-byte vector makes GCC 12 at -O3 report a
    // false -Warray-bounds in the reallocation path.
    Bytes macInput(5 + cmd.apdu.data.size());
    const std::uint8_t header[] = {0x84, 0x24, 0x00, 0x01, lc};
    std::copy(std::begin(header), std::end(header), macInput.begin());
    std::copy(cmd.apdu.data.begin(), cmd.apdu.data.end(), macInput.begin() + 5);
    auto mac = (*session)->mac(macInput);
    crypto::wipe(macInput);
    if (!mac) return unchanged(std::move(mac).error());
    cmd.apdu.data.insert(cmd.apdu.data.end(), mac->begin(), mac->end());
    auto r = send(tx, cmd.apdu, "PIN reset (84 24 00 01)");
    if (!r) return unexpected(withPinState(std::move(r).error(), kPinUnknown));
    if (!r->ok()) return unchanged(secureMessagingRefused(r->sw(), "PIN reset (84 24 00 01)"));
    return {};
}

Expected<void, Error> unblockPin(apdu::Transaction& tx, KeySource& keys, const CardKeyContext& card,
                                 const IssuerKeyIds& ids) {
    if (auto a = authenticatePuk(tx, keys, card, ids); !a) return a;
    auto challenge = getChallenge(tx, 8);
    if (!challenge) return unexpected(std::move(challenge).error());
    auto session = keys.openSession(KeyPurpose::puk, card, *challenge);
    if (!session) return unexpected(std::move(session).error());
    auto mac = (*session)->mac(Bytes{0x84, 0x24, 0x00, 0x00, 0x04});
    if (!mac) return unexpected(std::move(mac).error());
    apdu::CommandApdu cmd{.cla = 0x84,
                          .ins = 0x24,
                          .p1 = 0x00,
                          .p2 = 0x00,
                          .data = std::move(*mac),
                          .le = std::nullopt};
    auto r = send(tx, cmd, "PIN unblock (84 24 00 00)");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok()) return unexpected(secureMessagingRefused(r->sw(), "PIN unblock (84 24 00 00)"));
    return {};
}

}  // namespace sscard::ssse
