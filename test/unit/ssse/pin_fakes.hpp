// Shared by the PIN and key unit tests: a fake card connection (optionally a PIN pad reader), a
// fake PSAM, and the simulator's cards (test/sim/profiles) with the values card_crypto.py computes.
#pragma once

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apdu/pinpad.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "apdu/transport.hpp"
#include "crypto/mac.hpp"
#include "test/unit/test_hex.hpp"

namespace sscard::test {

using crypto::CardCipher;
using ssse::SecretPin;
using ssse::SoftwareKeyOptions;

inline SecretPin pin(std::string_view digits) {
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

    Expected<apdu::PinpadFeatures, apdu::TransportError> pinpadFeatures() override {
        if (readerGone) {
            return unexpected(apdu::TransportError{apdu::TransportErrorKind::reader_gone, "gone"});
        }
        if (!pinpad) return apdu::PinpadFeatures{};
        return features;
    }
    Expected<Bytes, apdu::TransportError> verifyPinDirect(
        const apdu::PinVerifyRequest& request) override {
        verifyRequests.push_back(request);
        return pinpadAnswer();
    }
    Expected<Bytes, apdu::TransportError> modifyPinDirect(
        const apdu::PinModifyRequest& request) override {
        modifyRequests.push_back(request);
        return pinpadAnswer();
    }

    std::vector<Bytes> sent;
    bool pinpad = false;      // false: no PIN pad, and PIN entry fails as the reader lost the card
    bool readerGone = false;  // asking for the features fails
    apdu::PinpadFeatures features;
    std::deque<Bytes> pinpadAnswers;
    std::vector<apdu::PinVerifyRequest> verifyRequests;
    std::vector<apdu::PinModifyRequest> modifyRequests;

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
    Expected<Bytes, apdu::TransportError> pinpadAnswer() {
        if (!pinpad) {
            return unexpected(apdu::TransportError{apdu::TransportErrorKind::comm_error, "no"});
        }
        if (pinpadAnswers.empty()) return hex("6400");
        Bytes a = pinpadAnswers.front();
        pinpadAnswers.pop_front();
        return a;
    }

    std::string name_ = "Fake Reader 00 00";
    Bytes atr_;
    Responder responder_;
};

inline FakeCard::Responder scripted(std::deque<Bytes> answers) {
    auto shared = std::make_shared<std::deque<Bytes>>(std::move(answers));
    return [shared](const Bytes&) {
        if (shared->empty()) return Bytes{};
        Bytes a = shared->front();
        shared->pop_front();
        return a;
    };
}

inline apdu::Transaction begin(FakeCard& card) {
    auto tx = card.begin();
    REQUIRE(tx);
    return std::move(*tx);
}

// gen3_valid (SM4) and gen3_des (3DES) from test/sim/profiles.
inline constexpr const char* kSm4CardId = "330100D15600000554782601FFFFFFFF";
inline constexpr const char* kSm4Atr = "3B8D8131FE4500814E4323869715335478260100";
inline constexpr const char* kSm4Master = "5A5A1122334455667788990011223344";
inline constexpr const char* kDesCardId = "330100D15600000554790312FFFFFFFF";
inline constexpr const char* kDesAtr = "3B6D000000814E43238697153354790312";
inline constexpr const char* kDesMaster = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

inline SoftwareKeyOptions enabled(std::vector<std::string>* warnings = nullptr) {
    SoftwareKeyOptions o;
    o.enabled = true;
    o.warn = [warnings](std::string_view w) {
        if (warnings != nullptr) warnings->emplace_back(w);
    };
    return o;
}

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

inline const ResetCase kCases[] = {
    {CardCipher::sm4, kSm4CardId, kSm4Atr, kSm4Master, "B0C9A0695FBAFC73",
     "84240001146652EFFE59C5EFE2E73E53204742B4DFFA75855A", "8424000004445EF07B"},
    {CardCipher::des3, kDesCardId, kDesAtr, kDesMaster, "8A855CB23FE8BDDD",
     "842400010CC0B14B9E57ECDE6B6BF7F5E9", "8424000004CABD6CAD"},
};

// A PSAM that plays test/sim/psam_card.py's protocol with the card_crypto conventions, holding the
// national master key and working at province level (levels 2).
inline Bytes fakePsam(const Bytes& c, CardCipher cipher, const Bytes& master, std::string& province,
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

}  // namespace sscard::test
