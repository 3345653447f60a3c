// PIN operations (apdu/ssse/pin.hpp) against fake connections: the APDUs sent, the outcomes mapped,
// the issuer reset against values computed by the simulator's Python implementation
// (test/sim/card_crypto.py), the PSAM dialogue, pinpad structures, and that no PIN reaches a trace.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>
#include "test/unit/test_hex.hpp"

#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "apdu/pinpad.hpp"
#include "apdu/ssse/pin.hpp"
#include "crypto/mac.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::ssse;
using sscard::crypto::CardCipher;

namespace {

SecretPin pin(std::string_view digits) {
    auto p = SecretPin::fromDigits(digits);
    REQUIRE(p.has_value());
    return std::move(*p);
}

// A card (or PSAM) that answers through a function and remembers what it was sent. Optionally a
// pinpad reader.
class FakeCard : public apdu::CardConnection, public apdu::PinpadCapable {
  public:
    using Responder = std::function<Bytes(const Bytes&)>;
    FakeCard(Bytes atr, Responder responder)
        : atr_(std::move(atr)), responder_(std::move(responder)) {}

    const std::string& readerName() const override { return name_; }
    const Bytes& atr() const override { return atr_; }
    apdu::Protocol protocol() const override { return apdu::Protocol::t1; }
    apdu::Interface interface() const override { return apdu::Interface::contact; }

    Expected<Bytes, apdu::TransportError> control(std::uint32_t code, ByteView in) override {
        controls.emplace_back(code, Bytes(in.begin(), in.end()));
        if (!pinpad) {
            return unexpected(apdu::TransportError{apdu::TransportErrorKind::comm_error, "no"});
        }
        if (code == apdu::kIoctlGetFeatureRequest) return features;
        if (pinpadAnswers.empty()) return hex("6400");
        Bytes a = pinpadAnswers.front();
        pinpadAnswers.pop_front();
        return a;
    }

    std::vector<Bytes> sent;
    std::vector<std::pair<std::uint32_t, Bytes>> controls;
    bool pinpad = false;
    Bytes features;
    std::deque<Bytes> pinpadAnswers;

  protected:
    Expected<void, apdu::TransportError> beginTransaction() override { return {}; }
    void endTransaction() noexcept override {}
    Expected<Bytes, apdu::TransportError> transmitRaw(ByteView command) override {
        Bytes c(command.begin(), command.end());
        sent.push_back(c);
        Bytes r = responder_(c);
        if (r.empty()) {
            return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "gone"});
        }
        return r;
    }

  private:
    std::string name_ = "Fake Reader 00 00";
    Bytes atr_;
    Responder responder_;
};

FakeCard::Responder scripted(std::deque<Bytes> answers) {
    auto shared = std::make_shared<std::deque<Bytes>>(std::move(answers));
    return [shared](const Bytes&) {
        if (shared->empty()) return Bytes{};
        Bytes a = shared->front();
        shared->pop_front();
        return a;
    };
}

apdu::Transaction begin(FakeCard& card) {
    auto tx = card.begin();
    REQUIRE(tx);
    return std::move(*tx);
}

// gen3_valid (SM4) and gen3_des (3DES) from test/sim/profiles.
const char* kSm4CardId = "330100D15600000554782601FFFFFFFF";
const char* kSm4Atr = "3B8D8131FE4500814E4323869715335478260100";
const char* kSm4Master = "5A5A1122334455667788990011223344";
const char* kDesCardId = "330100D15600000554790312FFFFFFFF";
const char* kDesAtr = "3B6D000000814E43238697153354790312";
const char* kDesMaster = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

SoftwareKeyOptions enabled(std::vector<std::string>* warnings = nullptr) {
    SoftwareKeyOptions o;
    o.enabled = true;
    o.warn = [warnings](std::string_view w) {
        if (warnings != nullptr) warnings->emplace_back(w);
    };
    return o;
}

}  // namespace

TEST_CASE("SecretPin: digits only, 4..16, BCD with F padding") {
    CHECK(SecretPin::fromDigits("1234"));
    CHECK(SecretPin::fromDigits("1234567890123456"));
    CHECK_FALSE(SecretPin::fromDigits("123"));
    CHECK_FALSE(SecretPin::fromDigits("12345678901234567"));
    CHECK_FALSE(SecretPin::fromDigits("12a456"));
    CHECK_FALSE(SecretPin::fromDigits(" 123456"));
    CHECK(SecretPin::fromDigits("123").error().code == ErrorCode::usage);
    CHECK(toHex(pin("12345").bcd().view()) == "12345F");
    CHECK(toHex(pin("123456").bcd().view()) == "123456");
    std::string text = "246813";
    auto p = SecretPin::take(text);
    REQUIRE(p);
    CHECK(text.empty());  // the source is wiped
    SecretPin moved = std::move(*p);
    CHECK(moved.length() == 6);
    CHECK(p->length() == 0);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("PIN policy") {
    PinPolicy policy;
    auto weak = [&](std::string_view digits, PinPolicyContext ctx = {}) {
        return findWeakness(policy, pin(digits), ctx);
    };
    CHECK_FALSE(weak("246813"));
    CHECK(weak("24681") == PinWeakness::length);
    CHECK(weak("2468135") == PinWeakness::length);
    CHECK(weak("123456") == PinWeakness::initial_pin);
    CHECK(weak("888888") == PinWeakness::initial_pin);
    SecretPin initial = pin("531642");
    CHECK(weak("531642", {&initial, std::nullopt}) == PinWeakness::initial_pin);
    CHECK(weak("000000") == PinWeakness::repeated_digit);
    CHECK(weak("999999") == PinWeakness::repeated_digit);
    CHECK(weak("234567") == PinWeakness::sequence);
    CHECK(weak("654321") == PinWeakness::sequence);
    CHECK(weak("901234") == PinWeakness::sequence);
    CHECK(weak("109876") == PinWeakness::sequence);
    CHECK(weak("789012") == PinWeakness::sequence);
    CHECK_FALSE(weak("135790"));

    PinPolicyContext born{nullptr, Date{1992, 11, 20}};
    CHECK(weak("921120", born) == PinWeakness::birth_date);  // YYMMDD
    CHECK(weak("112092", born) == PinWeakness::birth_date);  // MMDDYY
    CHECK(weak("201192", born) == PinWeakness::birth_date);  // DDMMYY
    CHECK(weak("199211", born) == PinWeakness::birth_date);  // run of YYYYMMDD
    CHECK(weak("921121", born) == std::nullopt);
    CHECK_FALSE(weak("246813", born));
    policy.minLength = 4;
    policy.maxLength = 12;
    CHECK(weak("19921120", born) == PinWeakness::birth_date);
    CHECK(weak("7719921120", born) == PinWeakness::birth_date);  // contains YYYYMMDD
    CHECK(weak("1120", born) == PinWeakness::birth_date);
    CHECK_FALSE(weak("4826", born));

    auto e = checkNewPin(PinPolicy{}, pin("111111"));
    REQUIRE_FALSE(e);
    CHECK(e.error().code == ErrorCode::pin_weak);
    CHECK(e.error().message.find("repeated_digit") != std::string::npos);
    CHECK(checkNewPin(PinPolicy{}, pin("246813")));
}

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

TEST_CASE("software key source: refused unless enabled, warns loudly, checks the file") {
    std::string text = std::string("# lab keys\npuk sm4 3 ") + kSm4Master + "\n";
    auto refused = SoftwareKeySource::fromText(text, {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::config);
    std::vector<std::string> warnings;
    auto ok = SoftwareKeySource::fromText(text, enabled(&warnings));
    REQUIRE(ok);
    REQUIRE_FALSE(warnings.empty());
    CHECK(warnings[0].find("SOFTWARE KEY FILE") != std::string::npos);
    CHECK_FALSE(SoftwareKeySource::fromText("puk sm4 3 0011", enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("puk aes 3 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("pin sm4 3 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("puk sm4 4 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("# nothing\n", enabled()));

    char path[] = "/tmp/sscard-keys-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    chmod(path, 0600);
    CHECK(SoftwareKeySource::load(path, enabled()));
    CHECK_FALSE(SoftwareKeySource::load(path, {}));
    chmod(path, 0644);
    auto open = SoftwareKeySource::load(path, enabled());
    REQUIRE_FALSE(open);
    CHECK(open.error().message.find("chmod 600") != std::string::npos);
    std::remove(path);
}

namespace {

// Issuer reset against the card with fixed challenges; expected APDUs from card_crypto.py.
struct ResetCase {
    CardCipher cipher;
    const char* cardId;
    const char* atr;
    const char* master;
    const char* cryptogram;
    const char* resetCommand;
    const char* unblockCommand;
};

const ResetCase kCases[] = {
    {CardCipher::sm4, kSm4CardId, kSm4Atr, kSm4Master, "B0C9A0695FBAFC73",
     "84240001146652EFFE59C5EFE2E73E53204742B4DFFA75855A", "8424000004445EF07B"},
    {CardCipher::des3, kDesCardId, kDesAtr, kDesMaster, "8A855CB23FE8BDDD",
     "842400010CC0B14B9E57ECDE6B6BF7F5E9", "8424000004CABD6CAD"},
};

}  // namespace

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

namespace {

// A PSAM that plays test/sim/psam_card.py's protocol with the card_crypto conventions, holding the
// national master key and working at province level (levels 2).
Bytes fakePsam(const Bytes& c, CardCipher cipher, const Bytes& master, std::string& province,
               crypto::SecretBytes& current, Bytes& pending) {
    auto ok = [](Bytes data) {
        data.push_back(0x90);
        data.push_back(0x00);
        return data;
    };
    if (c[0] == 0x00 && c[1] == 0xA4) return hex("9000");
    if (c[0] == 0x00 && c[1] == 0xC0) return ok(pending);
    Bytes data(c.begin() + 5, c.end());
    if (c[0] == 0xBF && c[1] == 0xEC) {
        province = toHex(data);
        return hex("9000");
    }
    if (c[0] == 0xBF && c[1] == 0xDE) {
        std::string f = province + "0000sh";
        auto key = crypto::diversify(cipher, master, Bytes(f.begin(), f.end()));
        REQUIRE(key);
        key = crypto::diversify(cipher, key->view(), ByteView(data).first(8));
        REQUIRE(key);
        key = crypto::diversify(cipher, key->view(), ByteView(data).subspan(8, 8));
        REQUIRE(key);
        if (data.size() > 16) {
            key = crypto::sessionKey(cipher, key->view(), ByteView(data).subspan(16));
            REQUIRE(key);
        }
        current = std::move(*key);
        return hex("9000");
    }
    if (c[0] == 0x80 && c[1] == 0xFA) {
        if (c[2] == 0x00) {
            auto e = crypto::encryptEcb(cipher, current.view(), data);
            REQUIRE(e);
            pending.assign(e->data(), e->data() + e->size());
        } else {
            auto block = crypto::macSm4Cbc(current.view(), data);
            REQUIRE(block);
            pending = crypto::foldQuarters(*block);
        }
        return Bytes{0x61, static_cast<std::uint8_t>(pending.size())};
    }
    return hex("6D00");
}

}  // namespace

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
