// What the key sources learn about the card: ATR historical bytes, diversification factors, and the
// card's cipher from its FCI.
#include <doctest/doctest.h>

#include "apdu/ssse/card_keys.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("ATR historical bytes and the card's key context") {
    CHECK(toHex(*atrHistoricalBytes(hex(kSm4Atr))) == "00814E43238697153354782601");
    CHECK(toHex(*atrHistoricalBytes(hex(kDesAtr))) == "00814E43238697153354790312");
    CHECK(toHex(*atrHistoricalBytes(hex("3B8D800100814E4323869715335478260100"))) ==
          "00814E43238697153354782601");
    CHECK_FALSE(atrHistoricalBytes(hex("3B8D8131")));
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, hex(kSm4Atr));
    REQUIRE(ctx);
    CHECK(toHex(ctx->factors.card) == "8697153354782601");
}

TEST_CASE("the card's cipher from its FCI") {
    const Bytes sm4Fci = hex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103");
    CHECK(*cipherFromFci(sm4Fci, kSm4CardId) == CardCipher::sm4);
    CHECK(*cipherFromFci(hex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860101"),
                         kSm4CardId) == CardCipher::des3);
    CHECK_FALSE(cipherFromFci(hex("6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860102"),
                              kSm4CardId));
    // No template: region 11 means SSF33 (refused), others DES.
    CHECK(*cipherFromFci(hex("6F0584039F0000"), kSm4CardId) == CardCipher::des3);
    CHECK_FALSE(cipherFromFci({}, "110100D156000005"));

    FakeCard card(hex(kSm4Atr), scripted({concat(sm4Fci, hex("9000"))}));
    auto tx = begin(card);
    auto c = readCardCipher(tx, kSm4CardId);
    REQUIRE(c);
    CHECK(*c == CardCipher::sm4);
    CHECK(toHex(card.sent[0]) == "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
}
