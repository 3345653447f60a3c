// The card cryptography of the social security card (docs/card.md#secure-messaging) on OpenSSL 3
// EVP: block ciphers, the card's 4-byte MACs, session keys, the PIN block of the issuer's PIN reset
// and the three-level key diversification.
//
// Ciphers. "des3" is two-key triple DES (16-byte key K1‖K2, EDE). Single DES lives in OpenSSL 3's
// legacy provider only; it is computed here as DES-EDE with K1‖K1, which equals single DES, so only
// the default provider is needed. "sm4" is SM4 (GB/T 32907), in OpenSSL's default provider.
// SSF33 is not supported (no public algorithm).
//
// Conventions this project implements (the card specification text available is terse; each choice
// is the reading that makes the specification's lengths come out: Lc 0C for DES, 14 for SM4):
//   - Padding: ISO/IEC 9797-1 method 2: 80 then 00 to the block size, always added.
//   - MAC, DES cards: ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC", ANSI X9.19): single DES CBC
//     with K1 over every block, then D(K2) and E(K1) on the last; IV zero; first 4 bytes. The
//     specification's "CBC-MAC with a double-length key (ISO 9797-1 style)" could also mean
//     algorithm 1 with 3DES on every block; that variant is here too (DesMacVariant::full3des),
//     selectable, but algorithm 3 is the default.
//   - MAC, SM4 cards: SM4-CBC, IV zero, over 16-byte blocks; the last 16-byte block folded into 4
//     bytes by XOR of its four 4-byte quarters.
//   - Session key: ECB encryption of the card challenge, right-padded with 00 to 16 bytes, under
//   the
//     card's (diversified) application key: 16 bytes, a two-key 3DES key or an SM4 key.
//   - External authentication cryptogram: the first 8 bytes of the ECB encryption of the challenge
//     padded with 00 to one block, under the diversified key.
//   - PIN block: number of PIN digits (1 byte) ‖ PIN in BCD (odd length padded with F) ‖ 80 00… to
//     the block size, ECB-encrypted under the session key.
//   - Diversification: child = E(factor) ‖ E(~factor) for DES (two 8-byte blocks), E(factor ‖
//     ~factor) for SM4 (one 16-byte block); factors are 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::crypto {

enum class CardCipher { des3, sm4 };

std::size_t blockSize(CardCipher cipher);        // 8 or 16
std::string_view cipherName(CardCipher cipher);  // "3des" or "sm4"

// Key material: move-only, wiped when destroyed or overwritten.
class SecretBytes {
  public:
    SecretBytes() = default;
    explicit SecretBytes(Bytes bytes) : bytes_(std::move(bytes)) {}
    static SecretBytes copyOf(ByteView bytes) {
        return SecretBytes(Bytes(bytes.begin(), bytes.end()));
    }
    SecretBytes(SecretBytes&& other) noexcept;
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes();

    ByteView view() const { return bytes_; }
    const std::uint8_t* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }

  private:
    Bytes bytes_;
};

// ISO/IEC 9797-1 padding method 2 (80 00…), always at least one byte.
Bytes padMethod2(ByteView data, std::size_t block);

// ECB over whole blocks (no padding). Key: 16 bytes (3DES K1‖K2, or SM4). A data length that is not
// a multiple of the block size, or a wrong key length, is an internal error.
Expected<SecretBytes, Error> encryptEcb(CardCipher cipher, ByteView key, ByteView data);
Expected<SecretBytes, Error> decryptEcb(CardCipher cipher, ByteView key, ByteView data);
// Single DES ECB with an 8-byte key (computed as DES-EDE K‖K).
Expected<Bytes, Error> desEncryptEcb(ByteView key8, ByteView data);

// MAC primitives over already padded data; the IV defaults to zero. Results are whole blocks.
// ISO/IEC 9797-1 MAC algorithm 1 with single DES (8-byte key): the last CBC block.
Expected<Bytes, Error> macAlg1Des(ByteView key8, ByteView padded, ByteView iv = {});
// ISO/IEC 9797-1 MAC algorithm 1 with two-key 3DES on every block: the last CBC block.
Expected<Bytes, Error> macAlg1Des3(ByteView key16, ByteView padded, ByteView iv = {});
// ISO/IEC 9797-1 MAC algorithm 3 (retail MAC): DES(K1) CBC, then E(K1)(D(K2)(last)): 8 bytes.
Expected<Bytes, Error> macAlg3(ByteView key16, ByteView padded, ByteView iv = {});
// SM4-CBC: the last 16-byte block.
Expected<Bytes, Error> macSm4Cbc(ByteView key16, ByteView padded, ByteView iv = {});
// XOR of the four 4-byte quarters of a 16-byte block.
Bytes foldQuarters(ByteView block16);

enum class DesMacVariant { retail, full3des };

// The card's 4-byte MAC over `message` (padding method 2 is applied here).
Expected<Bytes, Error> cardMac(CardCipher cipher, ByteView key, ByteView message,
                               DesMacVariant variant = DesMacVariant::retail);

// Session key from a card challenge (4, 8 or 16 bytes): E(challenge ‖ 00… to 16 bytes), 16 bytes.
Expected<SecretBytes, Error> sessionKey(CardCipher cipher, ByteView cardKey, ByteView challenge);

// EXTERNAL AUTHENTICATE cryptogram: the first 8 bytes of E(challenge ‖ 00… to one block).
Expected<Bytes, Error> authCryptogram(CardCipher cipher, ByteView key, ByteView challenge);

// The PIN block before encryption: digit count ‖ BCD (F-padded) ‖ 80 00… to the block size.
// `digits` must be 4..16 decimal digits (else internal error).
Expected<SecretBytes, Error> plainPinBlock(std::string_view digits, std::size_t block);
// The PIN block encrypted (ECB) under the session key.
Expected<Bytes, Error> encryptPinBlock(CardCipher cipher, ByteView sessionKey,
                                       std::string_view digits);

// One level of key diversification with an 8-byte factor: 16-byte child key.
Expected<SecretBytes, Error> diversify(CardCipher cipher, ByteView parentKey, ByteView factor8);

// The three diversification factors (8 bytes each) of a card (docs/card.md#key-diversification):
// province = 2 ASCII province digits ‖ "0000" ‖ "sh"; city = the first 6 digits of 卡识别码 as
// ASCII ‖ "sx"; card = ATR historical bytes T6..T13 (T1 being the first historical byte).
// The Zhejiang variant of the city factor is not implemented.
struct DiversificationFactors {
    Bytes province;
    Bytes city;
    Bytes card;
};
Expected<DiversificationFactors, Error> diversificationFactors(std::string_view cardId,
                                                               ByteView historicalBytes);

// A key `levels` steps above the card (3: national master, 2: province, 1: city, 0: the card key
// itself) diversified down to the card key, using the last `levels` factors.
Expected<SecretBytes, Error> deriveCardKey(CardCipher cipher, ByteView key, int levels,
                                           const DiversificationFactors& factors);

}  // namespace sscard::crypto
