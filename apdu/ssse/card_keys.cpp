#include "apdu/ssse/card_keys.hpp"

#include "apdu/command.hpp"
#include "apdu/outcome.hpp"
#include "apdu/ssse/application.hpp"
#include "apdu/ssse/exchange.hpp"
#include "apdu/tlv.hpp"

namespace sscard::ssse {

using crypto::CardCipher;

std::string_view purposeName(KeyPurpose p) {
    switch (p) {
        case KeyPurpose::puk:
            return "puk";
        case KeyPurpose::read:
            return "read";
        case KeyPurpose::update:
            return "update";
        case KeyPurpose::maintenance:
            return "maintenance";
        case KeyPurpose::internal:
            return "internal";
    }
    return "unknown";
}

std::optional<Bytes> atrHistoricalBytes(ByteView atr) {
    if (atr.size() < 2) return std::nullopt;
    std::size_t pos = 1;
    const std::size_t k = atr[1] & 0x0F;
    std::uint8_t y = atr[1] >> 4;
    ++pos;
    while (true) {
        const int present = ((y & 1) != 0) + ((y & 2) != 0) + ((y & 4) != 0);
        pos += static_cast<std::size_t>(present);
        if ((y & 8) == 0) break;
        if (pos >= atr.size()) return std::nullopt;
        y = atr[pos] >> 4;
        ++pos;
    }
    if (pos + k > atr.size()) return std::nullopt;
    return Bytes(atr.begin() + static_cast<std::ptrdiff_t>(pos),
                 atr.begin() + static_cast<std::ptrdiff_t>(pos + k));
}

std::optional<std::uint8_t> algorithmIdFromFci(ByteView fci) {
    auto objects = apdu::parseBerTlv(fci);
    if (!objects) return std::nullopt;
    const auto* tmpl = apdu::findBerTlv(*objects, 0x9F0C);
    if (tmpl == nullptr) return std::nullopt;
    // 9F0C is primitive by its tag bits; its value holds 86 01 xx.
    auto inner = apdu::parseBerTlv(tmpl->value);
    if (!inner) return std::nullopt;
    const auto* a = apdu::findBerTlv(*inner, 0x86);
    if (a == nullptr || a->value.size() != 1) return std::nullopt;
    return a->value[0];
}

Expected<crypto::CardCipher, Error> cipherFromFci(ByteView fci, std::string_view cardId) {
    std::optional<std::uint8_t> algorithm = algorithmIdFromFci(fci);
    if (!algorithm) algorithm = cardId.substr(0, 2) == "11" ? 0x02 : 0x01;
    switch (*algorithm) {
        case 0x01:
            return CardCipher::des3;
        case 0x03:
            return CardCipher::sm4;
        case 0x02:
            return unexpected(
                makeError(ErrorCode::card_error,
                          "the card uses SSF33, which this terminal does not support"));
        default:
            return unexpected(makeError(
                ErrorCode::card_error,
                "the card names an unknown algorithm " + toHex(Bytes{*algorithm}) + " in its FCI"));
    }
}

Expected<crypto::CardCipher, Error> readCardCipher(apdu::Transaction& tx, std::string_view cardId) {
    auto r = send(tx, apdu::selectByName(kSsseDfName, 256), "selecting the application (FCI)");
    if (!r) return unexpected(std::move(r).error());
    if (!r->ok())
        return unexpected(apdu::fromStatusWord(r->sw(), "selecting the application (FCI)"));
    return cipherFromFci(r->data, cardId);
}

Expected<CardKeyContext, Error> cardKeyContext(CardCipher cipher, std::string_view cardId,
                                               ByteView atr) {
    auto historical = atrHistoricalBytes(atr);
    if (!historical) {
        return unexpected(makeError(ErrorCode::card_error, "the card's ATR is malformed"));
    }
    auto factors = crypto::diversificationFactors(cardId, *historical);
    if (!factors) return unexpected(std::move(factors).error());
    return CardKeyContext{cipher, std::string(cardId), std::move(*factors)};
}

}  // namespace sscard::ssse
