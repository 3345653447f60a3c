// Issuer keys in a PSAM (the terminal's secure access module) in its own reader.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "apdu/ssse/key_source.hpp"
#include "apdu/transport.hpp"

namespace sscard::ssse {

// A PSAM (SAM card, application D15600000590) in its own PC/SC reader. Per operation, inside one
// transaction on the PSAM connection:
//   SELECT D15600000590; BF EC 00 00 01 <first byte of 卡识别码> (initialise for the province);
//   BF DE <usage> <psam key id> Lc <factors ‖ [challenge]> (derive the card key, or the session key
//   when a challenge follows); 80 FA 00 00 Lc <blocks> (encrypt, ECB) or 80 FA 05 00 Lc <padded
//   message> (MAC, 4 bytes); answers come through 61xx / 00 C0 GET RESPONSE.
// The factors sent are the last `levels` of province ‖ city ‖ card (the PSAM holds keys `levels`
// steps above the card). This is the convention the project's virtual PSAM implements; real PSAMs'
// usage bytes and key ids are configuration, and real PSAMs were not available for testing.
// A PSAM keeps one key per usage and algorithm: keyId for SM4 cards, keyIdDes for 3DES cards.
struct PsamKeyConfig {
    std::uint8_t usage = 0;     // P1 of BF DE
    std::uint8_t keyId = 0;     // P2 of BF DE for SM4 cards
    std::uint8_t keyIdDes = 0;  // P2 of BF DE for 3DES cards
};
struct PsamOptions {
    Bytes aid = {0xD1, 0x56, 0x00, 0x00, 0x05, 0x90};
    int levels = 2;  // factors sent: city ‖ card
    std::map<KeyPurpose, PsamKeyConfig> keys = {{KeyPurpose::puk, {0x27, 0x01, 0x02}},
                                                {KeyPurpose::read, {0x28, 0x01, 0x02}},
                                                {KeyPurpose::update, {0x29, 0x01, 0x02}},
                                                {KeyPurpose::maintenance, {0x2A, 0x01, 0x02}},
                                                {KeyPurpose::internal, {0x2B, 0x01, 0x02}}};
};

class PsamKeySource final : public KeySource {
  public:
    // The connection must outlive the key source.
    PsamKeySource(apdu::CardConnection& psam, PsamOptions options)
        : psam_(psam), options_(std::move(options)) {}

    std::string_view name() const override { return "PSAM"; }
    Expected<Bytes, Error> authCryptogram(KeyPurpose purpose, const CardKeyContext& card,
                                          ByteView challenge) override;
    Expected<std::unique_ptr<KeySession>, Error> openSession(KeyPurpose purpose,
                                                             const CardKeyContext& card,
                                                             ByteView challenge) override;

  private:
    friend class PsamSession;
    // SELECT, BF EC, BF DE with the factors and the optional session factor.
    Expected<void, Error> prepare(apdu::Transaction& tx, KeyPurpose purpose,
                                  const CardKeyContext& card, ByteView sessionFactor);
    apdu::CardConnection& psam_;
    PsamOptions options_;
};

}  // namespace sscard::ssse
