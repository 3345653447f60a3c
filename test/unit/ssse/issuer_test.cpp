// The issuer's PIN reset and unblock against the simulator's values (test/sim/card_crypto.py),
// their refusals, and that no PIN reaches the APDU trace on any PIN path (verify, change, reset).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/pin_commands.hpp"
#include "apdu/ssse/psam.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "crypto/random.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("resetPin and unblockPin with the software key source: the simulator's bytes") {
    for (const auto& c : kCases) {
        CAPTURE(crypto::cipherName(c.cipher));
        auto keys = SoftwareKeySource::fromText(
            std::string("puk ") + std::string(crypto::cipherName(c.cipher)) + " 3 " + c.master,
            enabled());
        REQUIRE(keys);
        FakeCard card(hex(c.atr), scripted({hex("11111111111111119000"), hex("9000"),
                                            hex("22222222222222229000"), hex("9000"),
                                            hex("11111111111111119000"), hex("9000"),
                                            hex("33333333333333339000"), hex("6988")}));
        auto ctx = cardKeyContext(c.cipher, c.cardId, card.atr());
        REQUIRE(ctx);
        auto tx = begin(card);
        auto r = resetPin(tx, pin("24681357"), **keys, *ctx, IssuerKeyIds{0x01});
        CHECK(r);
        REQUIRE(card.sent.size() == 4);
        CHECK(toHex(card.sent[0]) == "0084000008");
        CHECK(toHex(ByteView(card.sent[1]).first(13)) == std::string("0082000110") + c.cryptogram);
        CHECK(card.sent[1].size() == 21);
        CHECK(toHex(card.sent[2]) == "0084000008");
        CHECK(toHex(card.sent[3]) == c.resetCommand);

        auto u = unblockPin(tx, **keys, *ctx);
        REQUIRE_FALSE(u);
        CHECK(u.error().message.find("6988") != std::string::npos);
        CHECK(toHex(card.sent[7]) == c.unblockCommand);
    }
}

TEST_CASE("resetPin: a failing random source stops before EXTERNAL AUTHENTICATE, never zeros") {
    auto keys = SoftwareKeySource::fromText(std::string("puk sm4 3 ") + kSm4Master, enabled());
    REQUIRE(keys);
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, hex(kSm4Atr));
    REQUIRE(ctx);
    FakeCard card(hex(kSm4Atr), scripted({hex("11111111111111119000"), hex("9000")}));
    auto tx = begin(card);
    crypto::setRandomSourceForTesting([](std::uint8_t*, std::size_t) { return false; });
    auto r = resetPin(tx, pin("246813"), **keys, *ctx);
    crypto::setRandomSourceForTesting({});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::internal);
    CHECK(r.error().message.find("random") != std::string::npos);
    REQUIRE(card.sent.size() == 1);  // GET CHALLENGE only
    CHECK(toHex(card.sent[0]) == "0084000008");
}

TEST_CASE("resetPin: refusals are named") {
    auto keys = SoftwareKeySource::fromText(std::string("puk sm4 3 ") + kSm4Master, enabled());
    REQUIRE(keys);
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, hex(kSm4Atr));
    REQUIRE(ctx);
    {
        FakeCard card(hex(kSm4Atr), scripted({hex("11111111111111119000"), hex("6300")}));
        auto tx = begin(card);
        auto r = resetPin(tx, pin("246813"), **keys, *ctx);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::card_error);
        CHECK(r.error().message.find("EXTERNAL AUTHENTICATE") != std::string::npos);
    }
    {
        FakeCard card(
            hex(kSm4Atr),
            scripted({hex("11111111111111119000"), hex("9000"), hex("22222222222222229000"), {}}));
        auto tx = begin(card);
        auto r = resetPin(tx, pin("246813"), **keys, *ctx);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::card_removed);
    }
    {
        auto desOnly =
            SoftwareKeySource::fromText(std::string("puk 3des 3 ") + kDesMaster, enabled());
        REQUIRE(desOnly);
        FakeCard card(hex(kSm4Atr), scripted({hex("11111111111111119000")}));
        auto tx = begin(card);
        auto r = resetPin(tx, pin("246813"), **desOnly, *ctx);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::config);
    }
}

TEST_CASE("no PIN reaches the trace: verify, change, reset (software and PSAM)") {
    std::vector<std::string> lines;
    auto tracer = [&lines](std::string_view line) { lines.emplace_back(line); };
    const std::vector<std::string> pins = {"135790", "24681357", "975319"};

    FakeCard card(hex(kSm4Atr),
                  scripted({hex("9000"), hex("9000"), hex("11111111111111119000"), hex("9000"),
                            hex("22222222222222229000"), hex("9000"), hex("11111111111111119000"),
                            hex("9000"), hex("22222222222222229000"), hex("9000")}));
    card.setTracer(tracer);
    std::string province;
    crypto::SecretBytes current;
    Bytes pending;
    const Bytes master = hex(kSm4Master);
    FakeCard psamCard(hex("3B00"), [&](const Bytes& c) {
        return fakePsam(c, CardCipher::sm4, master, province, current, pending);
    });
    psamCard.setTracer(tracer);
    PsamKeySource psam(psamCard, PsamOptions{});
    auto soft = SoftwareKeySource::fromText(std::string("puk sm4 3 ") + kSm4Master, enabled());
    REQUIRE(soft);
    auto ctx = cardKeyContext(CardCipher::sm4, kSm4CardId, card.atr());
    REQUIRE(ctx);
    {
        auto tx = begin(card);
        CHECK(verifyPin(tx, pin(pins[0])));
        CHECK(changePin(tx, pin(pins[0]), pin(pins[2])));
        CHECK(resetPin(tx, pin(pins[1]), **soft, *ctx));
        CHECK(resetPin(tx, pin(pins[1]), psam, *ctx));
    }
    REQUIRE(lines.size() > 10);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    // The plaintext PIN block that went to the PSAM, as the trace would print it.
    auto block = crypto::plainPinBlock(pins[1], 16);
    REQUIRE(block);
    for (const auto& p : pins) {
        CAPTURE(p);
        auto bcd = pin(p).bcd();
        std::string bcdHex = toHex(bcd.view());
        std::string bcdSpaced = toHex(bcd.view(), " ");
        CHECK(all.find(p) == std::string::npos);
        CHECK(all.find(bcdHex) == std::string::npos);
        CHECK(all.find(bcdSpaced) == std::string::npos);
    }
    CHECK(all.find(toHex(block->view(), " ")) == std::string::npos);
    CHECK(all.find("80 FA 00 00 10 **") != std::string::npos);
}
