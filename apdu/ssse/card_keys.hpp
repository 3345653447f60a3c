// What a key source needs to know about the card to reach the issuer's key for it: the purpose of
// the key, the card's cipher (from its FCI) and its diversification factors (card id, ATR).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "crypto/mac.hpp"

namespace sscard::ssse {

// Which application key an operation needs. Key ids on the card vary by issuer: configuration.
// `read` is RKSSSE (external authentication before reading protected data), `internal` the
// internal-authentication key IAK (the chip proves it is genuine).
enum class KeyPurpose { puk, read, update, maintenance, internal };
std::string_view purposeName(KeyPurpose p);

// What a key source needs to know about the card to reach its key.
struct CardKeyContext {
    crypto::CardCipher cipher = crypto::CardCipher::sm4;
    std::string cardId;  // 卡识别码, 32 hex digits (EF05 tag 01)
    crypto::DiversificationFactors factors;
};
// From EF05's card id and the card's ATR (historical bytes T6..T13 are the card factor).
Expected<CardKeyContext, Error> cardKeyContext(crypto::CardCipher cipher, std::string_view cardId,
                                               ByteView atr);

// The algorithm id of the SSSE FCI (9F0C → 86 01 xx); nullopt when the FCI has none.
std::optional<std::uint8_t> algorithmIdFromFci(ByteView fci);
// The card's cipher from the SSSE FCI: 9F0C → 86 = 01 DES/3DES, 03 SM4 (02 SSF33: not supported,
// card_error). Without the template, a card id starting with region "11" means SSF33, otherwise DES
// (docs/card.md#fci-and-the-algorithm-id).
Expected<crypto::CardCipher, Error> cipherFromFci(ByteView fci, std::string_view cardId);
// SELECTs the SSSE application again with its FCI fetched, and decides as cipherFromFci. Drops any
// authentication on the card: call it before resetPin/unblockPin, not between.
Expected<crypto::CardCipher, Error> readCardCipher(apdu::Transaction& tx, std::string_view cardId);

// ATR historical bytes (ISO 7816-3 T0/TDi walk); nullopt for a malformed ATR.
std::optional<Bytes> atrHistoricalBytes(ByteView atr);

}  // namespace sscard::ssse
