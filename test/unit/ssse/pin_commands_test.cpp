// The holder's PIN commands against fake connections: the APDUs sent and the outcomes mapped, with
// the PIN from the host or from a fake PIN pad reader (no real PIN pad reader was tested).
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "apdu/ssse/pin_commands.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("verifyPin: APDU and outcomes") {
    FakeCard card({0x3B, 0x00},
                  scripted({hex("9000"), hex("63C2"), hex("63C0"), hex("6983"), hex("6A88"), {}}));
    auto tx = begin(card);
    CHECK(verifyPin(tx, pin("123456")));
    CHECK(toHex(card.sent[0]) == "0020000003123456");
    auto wrong = verifyPin(tx, pin("12345"));
    REQUIRE_FALSE(wrong);
    CHECK(toHex(card.sent[1]) == "002000000312345F");
    CHECK(wrong.error().code == ErrorCode::pin_wrong);
    CHECK(wrong.error().tries_left == 2);
    auto last = verifyPin(tx, pin("1111"));
    REQUIRE_FALSE(last);
    CHECK(last.error().code == ErrorCode::pin_blocked);
    CHECK(last.error().tries_left == 0);
    auto blocked = verifyPin(tx, pin("1111"));
    REQUIRE_FALSE(blocked);
    CHECK(blocked.error().code == ErrorCode::pin_blocked);
    auto noPin = verifyPin(tx, pin("1111"));
    REQUIRE_FALSE(noPin);
    CHECK(noPin.error().code == ErrorCode::card_error);
    auto removed = verifyPin(tx, pin("1111"));
    REQUIRE_FALSE(removed);
    CHECK(removed.error().code == ErrorCode::card_removed);
}

TEST_CASE("pinTriesLeft") {
    FakeCard card({0x3B, 0x00}, scripted({hex("63C3"), hex("6983"), hex("9000"), hex("6A88")}));
    auto tx = begin(card);
    auto a = pinTriesLeft(tx);
    REQUIRE(a);
    CHECK(*a == std::optional<int>(3));
    CHECK(toHex(card.sent[0]) == "00200000");
    auto b = pinTriesLeft(tx);
    REQUIRE(b);
    CHECK(*b == std::optional<int>(0));
    auto c = pinTriesLeft(tx);
    REQUIRE(c);
    CHECK_FALSE(c->has_value());
    CHECK_FALSE(pinTriesLeft(tx));
}

TEST_CASE("changePin: 80 5E 01 00 Lc old FF new") {
    FakeCard card({0x3B, 0x00}, scripted({hex("9000"), hex("63C1")}));
    auto tx = begin(card);
    CHECK(changePin(tx, pin("123456"), pin("24681")));
    CHECK(toHex(card.sent[0]) == "805E010007123456FF24681F");
    auto wrong = changePin(tx, pin("123456"), pin("246813"));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == ErrorCode::pin_wrong);
    CHECK(wrong.error().tries_left == 1);
}

TEST_CASE("pinpad: features, structures, outcomes (fake reader; no real pinpad tested)") {
    auto features = parseFeatures(hex("0604423300120704423300130A0442330016"));
    CHECK(features.size() == 3);
    CHECK(features[kFeatureVerifyPinDirect] == 0x42330012u);
    CHECK(features[kFeatureModifyPinDirect] == 0x42330013u);
    CHECK(parseFeatures(hex("060442330012070342")).size() == 1);  // truncated entry dropped
    CHECK(parseFeatures({}).empty());

    PinpadParams params;
    // PIN_VERIFY_STRUCTURE: timeouts 1E 1E, format 81 (bytes, pos 0, left, BCD), block 03, length
    // format 00, max/min 06 06, validation 02, 1 message, lang 0804, msg 00, prologue 000000,
    // data length 8, APDU 00 20 00 00 03 FF FF FF.
    CHECK(toHex(buildVerifyPinStructure(params)) ==
          "1E1E8103000606020104080000000008000000"
          "0020000003FFFFFF");
    // PIN_MODIFY_STRUCTURE: ... offsets old 00 new 04, confirm 03, 3 messages 00 01 02,
    // APDU 80 5E 01 00 07 FFFFFF FF FFFFFF.
    CHECK(toHex(buildModifyPinStructure(params)) ==
          "1E1E8103000004060603020304080001020000000C000000"
          "805E010007FFFFFFFFFFFFFF");
    PinpadParams longer{4, 12, 20, 0x0409};
    CHECK(toHex(buildVerifyPinStructure(longer)) ==
          "14148106000C04020109040000000"
          "00B000000"
          "0020000006FFFFFFFFFFFF");

    FakeCard reader(hex(kSm4Atr), scripted({}));
    auto none = pinpadFeatures(reader);
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    reader.pinpad = true;
    reader.features = hex("060442330012070442330013");
    auto found = pinpadFeatures(reader);
    REQUIRE(found);
    REQUIRE(found->has_value());
    CHECK((*found)->verifyPinDirect == 0x42330012u);
    reader.pinpadAnswers = {hex("9000"), hex("63C2"), hex("6401"), hex("9000")};
    auto tx = begin(reader);
    CHECK(verifyPinOnPinpad(tx, **found, params));
    CHECK(reader.controls.back().first == 0x42330012u);
    CHECK(reader.controls.back().second == buildVerifyPinStructure(params));
    auto wrong = verifyPinOnPinpad(tx, **found, params);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().tries_left == 2);
    auto cancelled = verifyPinOnPinpad(tx, **found, params);
    REQUIRE_FALSE(cancelled);
    CHECK(cancelled.error().message.find("cancelled") != std::string::npos);
    CHECK(changePinOnPinpad(tx, **found, params));
    CHECK(reader.controls.back().first == 0x42330013u);

    // Where the PIN stands: only MODIFY says; a reader failing mid-command leaves it unknown.
    CHECK_FALSE(wrong.error().pin_state);
    reader.pinpadAnswers = {hex("63C1")};
    auto refused = changePinOnPinpad(tx, **found, params);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().pin_state == "unchanged");
    reader.pinpad = false;  // the control call now fails
    auto lostVerify = verifyPinOnPinpad(tx, **found, params);
    REQUIRE_FALSE(lostVerify);
    CHECK_FALSE(lostVerify.error().pin_state);
    auto lostModify = changePinOnPinpad(tx, **found, params);
    REQUIRE_FALSE(lostModify);
    CHECK(lostModify.error().pin_state == "unknown");
    CHECK(reader.sent.empty());  // the PIN never went through the host's transmit
}
