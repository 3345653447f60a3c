// PC/SC part 10 PIN pads against a fake control function (no real PIN pad reader was tested): the
// feature list, the structures built from pcsc-lite's definitions byte for byte as before, and the
// SSSE PIN pad commands through them.
#include <doctest/doctest.h>

#include <PCSC/reader.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "apdu/pcsc/pinpad.hpp"
#include "apdu/ssse/pin_commands.hpp"
#include "test/unit/test_hex.hpp"

using namespace sscard;
using namespace sscard::apdu;
using namespace sscard::apdu::pcsc;
using sscard::test::hex;

namespace {

// The SSSE layer's commands for a PIN block of n bytes (apdu/ssse/pin_commands.cpp).
PinVerifyRequest ssseVerify(PinEntryFormat format) {
    const std::size_t n = format.blockBytes();
    Bytes command = {0x00, 0x20, 0x00, 0x00, static_cast<std::uint8_t>(n)};
    command.insert(command.end(), n, 0xFF);
    return {format, command};
}

PinModifyRequest ssseModify(PinEntryFormat format) {
    const std::size_t n = format.blockBytes();
    Bytes command = {0x80, 0x5E, 0x01, 0x00, static_cast<std::uint8_t>(2 * n + 1)};
    command.insert(command.end(), 2 * n + 1, 0xFF);
    return {format, command, 0, static_cast<std::uint8_t>(n + 1)};
}

// The structures as the earlier hand-made code wrote them, field by field: the reference that the
// ones built from pcsc-lite's packed structs must equal.
void putLe16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void putLe32(Bytes& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}

Bytes referenceVerify(const PinVerifyRequest& r) {
    const PinEntryFormat& f = r.format;
    Bytes s = {f.timeoutSeconds, f.timeoutSeconds, 0x81,
               static_cast<std::uint8_t>(f.blockBytes() & 0x0F), 0x00};
    putLe16(s, static_cast<std::uint16_t>((f.minDigits << 8) | f.maxDigits));
    s.push_back(0x02);
    s.push_back(0x01);
    putLe16(s, f.langId);
    s.insert(s.end(), {0x00, 0x00, 0x00, 0x00});
    putLe32(s, static_cast<std::uint32_t>(r.command.size()));
    s.insert(s.end(), r.command.begin(), r.command.end());
    return s;
}

Bytes referenceModify(const PinModifyRequest& r) {
    const PinEntryFormat& f = r.format;
    Bytes s = {f.timeoutSeconds,
               f.timeoutSeconds,
               0x81,
               static_cast<std::uint8_t>(f.blockBytes() & 0x0F),
               0x00,
               r.currentPinOffset,
               r.newPinOffset};
    putLe16(s, static_cast<std::uint16_t>((f.minDigits << 8) | f.maxDigits));
    s.insert(s.end(), {0x03, 0x02, 0x03});
    putLe16(s, f.langId);
    s.insert(s.end(), {0x00, 0x01, 0x02, 0x00, 0x00, 0x00});
    putLe32(s, static_cast<std::uint32_t>(r.command.size()));
    s.insert(s.end(), r.command.begin(), r.command.end());
    return s;
}

// A reader's SCardControl: the feature list, then scripted answers; remembers what it was sent.
struct FakeControl {
    bool partTen = true;
    Bytes features = hex("060442330012070442330013");
    std::deque<Expected<Bytes, TransportError>> answers;
    std::vector<std::pair<std::uint32_t, Bytes>> calls;

    ControlFunction function() {
        return [this](std::uint32_t code, ByteView in) -> Expected<Bytes, TransportError> {
            calls.emplace_back(code, Bytes(in.begin(), in.end()));
            if (code == CM_IOCTL_GET_FEATURE_REQUEST) {
                if (!partTen) {
                    return unexpected(TransportError{TransportErrorKind::other, "unsupported"});
                }
                return features;
            }
            if (answers.empty()) return hex("6400");
            auto a = std::move(answers.front());
            answers.pop_front();
            return a;
        };
    }
};

// A card connection whose PIN pad is a ReaderPinpad over a FakeControl, like PcscCard's.
class FakePcscCard : public CardConnection, public PinpadCapable {
  public:
    explicit FakePcscCard(FakeControl& control) : pinpad_(control.function()) {}
    const std::string& readerName() const override { return name_; }
    const Bytes& atr() const override { return atr_; }
    Protocol protocol() const override { return Protocol::t1; }
    Interface interface() const override { return Interface::contact; }
    Expected<PinpadFeatures, TransportError> pinpadFeatures() override {
        return pinpad_.features();
    }
    Expected<Bytes, TransportError> verifyPinDirect(const PinVerifyRequest& r) override {
        return pinpad_.verifyPinDirect(r);
    }
    Expected<Bytes, TransportError> modifyPinDirect(const PinModifyRequest& r) override {
        return pinpad_.modifyPinDirect(r);
    }

  protected:
    Expected<void, TransportError> beginTransaction() override { return {}; }
    void endTransaction() noexcept override {}
    Expected<Bytes, TransportError> transmitRaw(ByteView) override {
        return unexpected(TransportError{TransportErrorKind::other, "no transmit in this test"});
    }

  private:
    std::string name_ = "Fake PIN pad 00 00";
    Bytes atr_ = {0x3B, 0x00};
    ReaderPinpad pinpad_;
};

}  // namespace

TEST_CASE("part 10 feature list: PCSC_TLV_STRUCTUREs with big-endian control codes") {
    static_assert(sizeof(PCSC_TLV_STRUCTURE) == 6);
    auto features = parseFeatureTlv(hex("0604423300120704423300130A0442330016"));
    CHECK(features.size() == 3);
    CHECK(features[FEATURE_VERIFY_PIN_DIRECT] == 0x42330012u);
    CHECK(features[FEATURE_MODIFY_PIN_DIRECT] == 0x42330013u);
    CHECK(features[FEATURE_IFD_PIN_PROPERTIES] == 0x42330016u);
    CHECK(parseFeatureTlv(hex("060442330012070342")).size() == 1);  // truncated entry dropped
    CHECK(parseFeatureTlv(hex("06034233001207044233")).empty());    // wrong length ends the parse
    CHECK(parseFeatureTlv({}).empty());
}

TEST_CASE("PIN_VERIFY/MODIFY_STRUCTURE from pcsc-lite's structs: the bytes sent before") {
    PinEntryFormat format;
    // PIN_VERIFY_STRUCTURE: timeouts 1E 1E, format 81 (bytes, pos 0, left, BCD), block 03, length
    // format 00, max/min 06 06, validation 02, 1 message, lang 0804, msg 00, prologue 000000,
    // data length 8, APDU 00 20 00 00 03 FF FF FF.
    CHECK(toHex(verifyPinStructure(ssseVerify(format))) ==
          "1E1E8103000606020104080000000008000000"
          "0020000003FFFFFF");
    // PIN_MODIFY_STRUCTURE: ... offsets old 00 new 04, confirm 03, 3 messages 00 01 02,
    // APDU 80 5E 01 00 07 FFFFFF FF FFFFFF.
    CHECK(toHex(modifyPinStructure(ssseModify(format))) ==
          "1E1E8103000004060603020304080001020000000C000000"
          "805E010007FFFFFFFFFFFFFF");
    PinEntryFormat longer{4, 12, 20, 0x0409};
    CHECK(toHex(verifyPinStructure(ssseVerify(longer))) ==
          "14148106000C04020109040000000"
          "00B000000"
          "0020000006FFFFFFFFFFFF");

    // Every format the configuration allows (4..16 digits), against the field-by-field reference.
    for (std::size_t min = 4; min <= 16; ++min) {
        for (std::size_t max = min; max <= 16; ++max) {
            for (std::uint8_t timeout : {0, 30, 255}) {
                PinEntryFormat f{min, max, timeout, 0x0804};
                CAPTURE(min);
                CAPTURE(max);
                CAPTURE(timeout);
                CHECK(verifyPinStructure(ssseVerify(f)) == referenceVerify(ssseVerify(f)));
                CHECK(modifyPinStructure(ssseModify(f)) == referenceModify(ssseModify(f)));
            }
        }
    }
    CHECK(offsetof(PIN_VERIFY_STRUCTURE, abData) == 19);
    CHECK(offsetof(PIN_MODIFY_STRUCTURE, abData) == 24);
}

TEST_CASE("ReaderPinpad: features, control codes, readers without part 10") {
    FakeControl control;
    ReaderPinpad pad(control.function());
    auto features = pad.features();
    REQUIRE(features);
    CHECK(features->verifyPinDirect);
    CHECK(features->modifyPinDirect);
    CHECK(control.calls.back().first == 0x42000000u + 3400u);
    CHECK(control.calls.back().second.empty());
    auto request = ssseVerify({});
    control.answers = {hex("9000")};
    auto answer = pad.verifyPinDirect(request);
    REQUIRE(answer);
    CHECK(toHex(*answer) == "9000");
    CHECK(control.calls.back().first == 0x42330012u);
    CHECK(control.calls.back().second == verifyPinStructure(request));

    control.features = hex("060442330012");  // VERIFY only
    features = pad.features();
    REQUIRE(features);
    CHECK_FALSE(features->modifyPinDirect);
    auto noModify = pad.modifyPinDirect(ssseModify({}));
    REQUIRE_FALSE(noModify);
    CHECK(noModify.error().kind == TransportErrorKind::refused);

    // Asked for its features first when nobody did.
    FakeControl fresh;
    ReaderPinpad unasked(fresh.function());
    fresh.answers = {hex("63C2")};
    REQUIRE(unasked.modifyPinDirect(ssseModify({})));
    REQUIRE(fresh.calls.size() == 2);
    CHECK(fresh.calls[0].first == 0x42000000u + 3400u);
    CHECK(fresh.calls[1].first == 0x42330013u);

    // A reader that refuses the request has no PIN pad; a card or service gone is an error.
    FakeControl plain;
    plain.partTen = false;
    ReaderPinpad none(plain.function());
    auto nothing = none.features();
    REQUIRE(nothing);
    CHECK_FALSE(nothing->verifyPinDirect);
    CHECK_FALSE(nothing->modifyPinDirect);
    FakeControl gone;
    ReaderPinpad lost([&gone](std::uint32_t code, ByteView in) -> Expected<Bytes, TransportError> {
        gone.calls.emplace_back(code, Bytes(in.begin(), in.end()));
        return unexpected(TransportError{TransportErrorKind::reader_gone, "unplugged"});
    });
    auto error = lost.features();
    REQUIRE_FALSE(error);
    CHECK(error.error().kind == TransportErrorKind::reader_gone);
}

TEST_CASE("SSSE PIN pad commands through PC/SC part 10: the control bytes sent before") {
    FakeControl control;
    FakePcscCard card(control);
    auto features = ssse::pinpadFeatures(card);
    REQUIRE(features);
    REQUIRE(features->has_value());
    auto tx = card.begin();
    REQUIRE(tx);
    control.answers = {hex("9000"), hex("9000")};
    CHECK(ssse::verifyPinOnPinpad(*tx, **features, PinEntryFormat{}));
    CHECK(control.calls.back().first == 0x42330012u);
    CHECK(toHex(control.calls.back().second) ==
          "1E1E81030006060201040800000000080000000020000003FFFFFF");
    CHECK(ssse::changePinOnPinpad(*tx, **features, PinEntryFormat{}));
    CHECK(control.calls.back().first == 0x42330013u);
    CHECK(toHex(control.calls.back().second) ==
          "1E1E8103000004060603020304080001020000000C000000805E010007FFFFFFFFFFFFFF");
}
