// The PSAM key source against a fake PSAM: its dialogue, the same card APDUs as the software key
// source, and its failures.
#include <doctest/doctest.h>

#include <string>

#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/psam.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("PSAM key source: the dialogue, and the same APDUs as the software key source") {
    std::string province;
    crypto::SecretBytes current;
    Bytes pending;
    const Bytes master = hex(kSm4Master);
    FakeCard psamCard(hex("3B6900000050534D0000000000"), [&](const Bytes& c) {
        return fakePsam(c, CardCipher::sm4, master, province, current, pending);
    });
    PsamKeySource psam(psamCard, PsamOptions{});
    FakeCard card(hex(kSm4Atr), scripted({hex("11111111111111119000"), hex("9000"),
                                          hex("22222222222222229000"), hex("9000")}));
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, card.atr());
    REQUIRE(ctx);
    auto tx = begin(card);
    REQUIRE(resetPin(tx, pin("24681357"), psam, *ctx));
    CHECK(toHex(ByteView(card.sent[1]).first(13)) == "0082000110B0C9A0695FBAFC73");
    CHECK(toHex(card.sent[3]) == kCases[0].resetCommand);
    // The PSAM saw: SELECT, BF EC 33, BF DE 27 01 with city ‖ card factors, 80 FA, GET RESPONSE.
    REQUIRE(psamCard.sent.size() >= 5);
    CHECK(toHex(psamCard.sent[0]) == "00A4040006D15600000590");
    CHECK(toHex(psamCard.sent[1]) == "BFEC00000133");
    CHECK(toHex(psamCard.sent[2]) ==
          "BFDE270110" + toHex(Bytes{'3', '3', '0', '1', '0', '0', 's', 'x'}) + "8697153354782601");
    CHECK(toHex(ByteView(psamCard.sent[3]).first(5)) == "80FA000010");
    CHECK(toHex(psamCard.sent[4]) == "00C0000010");
}

TEST_CASE("PSAM errors: missing key, PSAM gone") {
    FakeCard psamCard(hex("3B00"), scripted({hex("9000"), hex("9000"), hex("6A88")}));
    PsamKeySource psam(psamCard, PsamOptions{});
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, hex(kSm4Atr));
    REQUIRE(ctx);
    auto r = psam.authCryptogram(KeyPurpose::puk, *ctx, hex("1111111111111111"));
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("lacks") != std::string::npos);
    auto gone = psam.authCryptogram(KeyPurpose::puk, *ctx, hex("1111111111111111"));
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == ErrorCode::card_error);
    CHECK(gone.error().message.find("PSAM") != std::string::npos);
}
