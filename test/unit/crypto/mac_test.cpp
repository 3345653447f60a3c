// Card cryptography (crypto/mac.hpp) against published vectors, and the project's conventions
// against values computed independently with python3-cryptography (test/sim/card_crypto.py, the
// simulator's implementation).
#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include <string>

#include "crypto/mac.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::crypto;

namespace {

Bytes ascii(std::string_view text) {
    return Bytes(text.begin(), text.end());
}

std::string hexOf(const Expected<Bytes, Error>& r) {
    REQUIRE(r.has_value());
    return toHex(*r);
}

std::string hexOf(const Expected<SecretBytes, Error>& r) {
    REQUIRE(r.has_value());
    return toHex(r->view());
}

const Bytes kKey = *fromHex("0123456789ABCDEFFEDCBA9876543210");

}  // namespace

TEST_CASE("SM4: the GB/T 32907 example (also RFC 8998 / ISO/IEC 18033-3)") {
    // Key and plaintext 0123456789ABCDEFFEDCBA9876543210 -> 681EDF34D206965E86B3E94F536E4246.
    CHECK(hexOf(encryptEcb(CardCipher::sm4, kKey, kKey)) == "681EDF34D206965E86B3E94F536E4246");
    CHECK(hexOf(decryptEcb(CardCipher::sm4, kKey, hex("681EDF34D206965E86B3E94F536E4246"))) ==
          toHex(kKey));
}

TEST_CASE("single DES: the classic worked example and FIPS 81 CBC") {
    // Key 133457799BBCDFF1, plaintext 0123456789ABCDEF -> 85E813540F0AB405 (the standard
    // step-by-step DES example; computed as DES-EDE with K||K).
    CHECK(hexOf(desEncryptEcb(hex("133457799BBCDFF1"), hex("0123456789ABCDEF"))) ==
          "85E813540F0AB405");
    // FIPS 81 appendix C (CBC): key 0123456789ABCDEF, IV 1234567890ABCDEF, "Now is the time for
    // all " -> E5C7CDDE872BF27C 43E934008C389C0F 683788499A7C05F6; the last block is the CBC-MAC.
    CHECK(hexOf(macAlg1Des(hex("0123456789ABCDEF"), ascii("Now is the time for all "),
                           hex("1234567890ABCDEF"))) == "683788499A7C05F6");
}

TEST_CASE("ISO/IEC 9797-1 MAC algorithm 1 (FIPS 113 / ANSI X9.9)") {
    // FIPS 113 example: key 0123456789ABCDEF, IV 0, "7654321 Now is the time for " (zero padded
    // to 32 bytes) -> MAC F1D30F68 (the first 32 bits).
    Bytes text = ascii("7654321 Now is the time for ");
    text.resize(32, 0x00);
    auto mac = macAlg1Des(hex("0123456789ABCDEF"), text);
    REQUIRE(mac);
    CHECK(toHex(ByteView(*mac).first(4)) == "F1D30F68");
}

TEST_CASE("ISO/IEC 9797-1 MAC algorithm 3 (retail MAC)") {
    // Bouncy Castle's ISO9797Alg3MacTest: key 7CA110454A1A6E570131D9619DC1376E,
    // "Hello World !!!!" (two whole blocks, no padding) -> F09B856213BAB83B.
    CHECK(hexOf(macAlg3(hex("7CA110454A1A6E570131D9619DC1376E"), ascii("Hello World !!!!"))) ==
          "F09B856213BAB83B");
    // pyemv's test_mac_iso9797_3: K1 AAAA…, K2 BBBB…, "hello world" with padding method 1 (zeros to
    // 16 bytes) -> 78DA3D3DEB48FD4D.
    Bytes text = ascii("hello world");
    text.resize(16, 0x00);
    CHECK(hexOf(macAlg3(hex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB"), text)) == "78DA3D3DEB48FD4D");
    // With K1 == K2 algorithm 3 degenerates into algorithm 1 with single DES.
    Bytes same = hex("0123456789ABCDEF0123456789ABCDEF");
    Bytes data = ascii("Now is the time for all ");
    CHECK(hexOf(macAlg3(same, data)) == hexOf(macAlg1Des(hex("0123456789ABCDEF"), data)));
}

TEST_CASE("two-key 3DES: equal halves is single DES - known answer") {
    CHECK(hexOf(encryptEcb(CardCipher::des3, hex("133457799BBCDFF1133457799BBCDFF1"),
                           hex("0123456789ABCDEF"))) == "85E813540F0AB405");
    // Cross-checked with python3-cryptography's TripleDES.
    CHECK(hexOf(encryptEcb(CardCipher::des3, kKey, hex("0123456789ABCDEF"))) == "1A4D672DCA6CB335");
}

TEST_CASE("padding method 2") {
    CHECK(toHex(padMethod2(hex("0102"), 8)) == "0102800000000000");
    CHECK(toHex(padMethod2(hex("0102030405060708"), 8)) == "01020304050607088000000000000000");
    CHECK(padMethod2({}, 16).size() == 16);
}

TEST_CASE("the card's MACs, session keys, cryptograms and PIN blocks (simulator cross-check)") {
    // Values from test/sim/card_crypto.py (python3-cryptography), which the simulator uses.
    CHECK(hexOf(cardMac(CardCipher::des3, kKey, hex("842400010C1122334455667788"))) == "56D85548");
    CHECK(hexOf(cardMac(CardCipher::sm4, kKey,
                        hex("8424000114000102030405060708090A0B0C0D0E0F"))) == "6AA481A7");

    Bytes challenge = hex("A1A2A3A4A5A6A7A8");
    CHECK(hexOf(sessionKey(CardCipher::des3, kKey, challenge)) ==
          "720D29FF7CEE3BD908D7B4FB629D0885");
    CHECK(hexOf(sessionKey(CardCipher::sm4, kKey, challenge)) ==
          "94A1A90D8F0500B8A33857BF3BDC3A05");
    CHECK(hexOf(authCryptogram(CardCipher::des3, kKey, challenge)) == "720D29FF7CEE3BD9");
    CHECK(hexOf(authCryptogram(CardCipher::sm4, kKey, challenge)) == "94A1A90D8F0500B8");

    CHECK(hexOf(plainPinBlock("123456", 8)) == "0612345680000000");
    CHECK(hexOf(plainPinBlock("12345", 8)) == "0512345F80000000");
    CHECK(hexOf(plainPinBlock("12345678901234", 8)) == "0E123456789012348000000000000000");
    CHECK(hexOf(plainPinBlock("123456", 16)) == "06123456800000000000000000000000");
    CHECK_FALSE(plainPinBlock("123", 8));
    CHECK_FALSE(plainPinBlock("12a456", 8));

    auto skDes = sessionKey(CardCipher::des3, kKey, challenge);
    REQUIRE(skDes);
    CHECK(hexOf(encryptPinBlock(CardCipher::des3, skDes->view(), "123456")) == "778C235603CFF44D");
    auto skSm4 = sessionKey(CardCipher::sm4, kKey, challenge);
    REQUIRE(skSm4);
    CHECK(hexOf(encryptPinBlock(CardCipher::sm4, skSm4->view(), "123456")) ==
          "BC8F819BA95E0FBC24C4563568DEC93D");
}

TEST_CASE("SM4 MAC folds the last block") {
    auto block = macSm4Cbc(kKey, padMethod2(hex("8424000114000102030405060708090A0B0C0D0E0F"), 16));
    REQUIRE(block);
    CHECK(toHex(foldQuarters(*block)) == "6AA481A7");
    CHECK(toHex(foldQuarters(hex("000000010000000200000004000000F8"))) == "000000FF");
}

TEST_CASE("key diversification, three levels") {
    auto f = diversificationFactors("330100D15600000554782601FFFFFFFF",
                                    hex("00814E43238697153354782601"));
    REQUIRE(f);
    CHECK(f->province == ascii("330000sh"));
    CHECK(f->city == ascii("330100sx"));
    CHECK(toHex(f->card) == "8697153354782601");
    CHECK(hexOf(deriveCardKey(CardCipher::des3, kKey, 3, *f)) ==
          "D8CCA5EABA4CBF0859EA27E802ECFB84");
    CHECK(hexOf(deriveCardKey(CardCipher::sm4, kKey, 3, *f)) == "C14C895546DDE254F38B8012F0F6499E");
    // Level by level equals the three-step derivation; level 0 is the key itself.
    auto province = diversify(CardCipher::sm4, kKey, f->province);
    REQUIRE(province);
    auto viaProvince = deriveCardKey(CardCipher::sm4, province->view(), 2, *f);
    CHECK(hexOf(viaProvince) == "C14C895546DDE254F38B8012F0F6499E");
    CHECK(hexOf(deriveCardKey(CardCipher::sm4, kKey, 0, *f)) == toHex(kKey));
    // DES child = 3DES(factor) || 3DES(~factor).
    auto child = diversify(CardCipher::des3, kKey, f->city);
    REQUIRE(child);
    Bytes inverted;
    for (auto b : f->city) inverted.push_back(static_cast<std::uint8_t>(~b));
    CHECK(toHex(child->view()) == hexOf(encryptEcb(CardCipher::des3, kKey, f->city)) +
                                      hexOf(encryptEcb(CardCipher::des3, kKey, inverted)));

    CHECK_FALSE(diversificationFactors("33A100", hex("00814E43238697153354782601")));
    CHECK_FALSE(diversificationFactors("330100D156", hex("00814E4323")));
}

TEST_CASE("bad sizes are errors, not crashes") {
    CHECK_FALSE(encryptEcb(CardCipher::des3, hex("0011"), hex("0011223344556677")));
    CHECK_FALSE(encryptEcb(CardCipher::sm4, kKey, hex("0011")));
    CHECK_FALSE(macAlg3(hex("0011223344556677"), hex("0011223344556677")));
    CHECK_FALSE(sessionKey(CardCipher::sm4, kKey, {}));
}
