// The holder's PIN commands against fake connections: the APDUs sent and the outcomes mapped, with
// the PIN from the host or from a fake PIN pad reader (no real PIN pad reader was tested). The
// PC/SC part 10 structures built from the PIN pad commands: test/unit/pcsc/pinpad_test.cpp.
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

TEST_CASE("pinpad: features, the commands handed to the reader, outcomes (fake reader)") {
    FakeCard reader(hex(kSm4Atr), scripted({}));
    auto none = pinpadFeatures(reader);
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    reader.pinpad = true;
    reader.features = {false, true};  // no VERIFY: not a usable PIN pad
    auto modifyOnly = pinpadFeatures(reader);
    REQUIRE(modifyOnly);
    CHECK_FALSE(modifyOnly->has_value());
    reader.readerGone = true;
    auto gone = pinpadFeatures(reader);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == ErrorCode::card_removed);
    reader.readerGone = false;
    reader.features = {true, true};
    auto found = pinpadFeatures(reader);
    REQUIRE(found);
    REQUIRE(found->has_value());
    CHECK((*found)->verifyPinDirect);
    CHECK((*found)->modifyPinDirect);

    apdu::PinEntryFormat format;
    reader.pinpadAnswers = {hex("9000"), hex("63C2"), hex("6401"), hex("9000")};
    auto tx = begin(reader);
    CHECK(verifyPinOnPinpad(tx, **found, format));
    REQUIRE(reader.verifyRequests.size() == 1);
    // 00 20 00 00 03 and the PIN block pre-set to FF, for the reader to fill.
    CHECK(toHex(reader.verifyRequests[0].command) == "0020000003FFFFFF");
    CHECK(reader.verifyRequests[0].format.maxDigits == 6);
    auto wrong = verifyPinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == ErrorCode::pin_wrong);
    CHECK(wrong.error().tries_left == 2);
    auto cancelled = verifyPinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(cancelled);
    CHECK(cancelled.error().code == ErrorCode::card_error);
    CHECK(cancelled.error().message.find("cancelled") != std::string::npos);
    CHECK(cancelled.error().sw == 0x6401);  // for clients that report the pad's outcome
    CHECK(changePinOnPinpad(tx, **found, format));
    REQUIRE(reader.modifyRequests.size() == 1);
    // 80 5E 01 00 07, the current PIN's block, the separator FF, the new PIN's block.
    CHECK(toHex(reader.modifyRequests[0].command) == "805E010007FFFFFFFFFFFFFF");
    CHECK(reader.modifyRequests[0].currentPinOffset == 0);
    CHECK(reader.modifyRequests[0].newPinOffset == 4);

    apdu::PinEntryFormat longer{4, 12, 20, 0x0409};
    reader.pinpadAnswers = {hex("9000")};
    CHECK(verifyPinOnPinpad(tx, **found, longer));
    CHECK(toHex(reader.verifyRequests.back().command) == "0020000006FFFFFFFFFFFF");
    CHECK(reader.verifyRequests.back().format.timeoutSeconds == 20);
    CHECK(reader.verifyRequests.back().format.langId == 0x0409);

    reader.pinpadAnswers = {hex("6402"), hex("900000")};
    auto differ = changePinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(differ);
    CHECK(differ.error().message.find("differ") != std::string::npos);
    CHECK(differ.error().sw == 0x6402);
    auto garbled = verifyPinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(garbled);
    CHECK(garbled.error().message.find("instead of SW1 SW2") != std::string::npos);
    auto noModify = changePinOnPinpad(tx, apdu::PinpadFeatures{true, false}, format);
    REQUIRE_FALSE(noModify);
    CHECK(noModify.error().code == ErrorCode::not_allowed);

    // Where the PIN stands: only MODIFY says; a reader failing mid-command leaves it unknown.
    CHECK_FALSE(wrong.error().pin_state);
    reader.pinpadAnswers = {hex("63C1")};
    auto refused = changePinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().pin_state == "unchanged");
    reader.pinpad = false;  // PIN entry now fails as if the reader lost the card
    auto lostVerify = verifyPinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(lostVerify);
    CHECK_FALSE(lostVerify.error().pin_state);
    auto lostModify = changePinOnPinpad(tx, **found, format);
    REQUIRE_FALSE(lostModify);
    CHECK(lostModify.error().pin_state == "unknown");
    CHECK(reader.sent.empty());  // the PIN never went through the host's transmit
}
