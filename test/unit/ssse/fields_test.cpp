#include <doctest/doctest.h>

#include "apdu/ssse/fields.hpp"

using namespace sscard;
using namespace sscard::ssse;

static Bytes hex(const char* h) {
    return *fromHex(h);
}

TEST_CASE("BCD dates") {
    auto d = decodeDate(hex("20101001"));
    REQUIRE(d);
    CHECK(d->iso() == "2010-10-01");
    CHECK(decodeDate(hex("20240229"))->iso() == "2024-02-29");
    CHECK_FALSE(decodeDate(hex("20230229")));  // not a leap year
    CHECK_FALSE(decodeDate(hex("20101301")));  // month 13
    CHECK_FALSE(decodeDate(hex("2010100A")));  // not BCD
    CHECK_FALSE(decodeDate(hex("FFFFFFFF")));  // empty
    CHECK_FALSE(decodeDate(hex("00000000")));  // empty
    CHECK_FALSE(decodeDate(hex("201010")));    // wrong length
}

TEST_CASE("an fields lose their padding - empty ones are null") {
    CHECK(decodeAn(hex("332E3030")) == "3.00");
    CHECK(decodeAn(hex("322E3000")) == "2.0");
    CHECK(decodeAn(hex("423700")) == "B7");
    CHECK_FALSE(decodeAn(hex("000000")));
    CHECK_FALSE(decodeAn(hex("FFFF")));
    CHECK_FALSE(decodeAn(hex("41C9")));  // not ASCII
}

TEST_CASE("cn digits stop at F padding and reject digits after it") {
    CHECK(decodeCnDigits(hex("330300")) == "330300");
    CHECK(decodeCnDigits(hex("01")) == "01");
    CHECK(decodeCnDigits(hex("3303FF")) == "3303");
    CHECK_FALSE(decodeCnDigits(hex("33F3")));
    CHECK_FALSE(decodeCnDigits(hex("3A")));
    CHECK_FALSE(decodeCnDigits(hex("FFFFFF")));
}

TEST_CASE("hex fields keep every byte, upper case") {
    CHECK(decodeHex(hex("330300d15600000599110145ffffffff")) == "330300D15600000599110145FFFFFFFF");
    CHECK_FALSE(decodeHex(hex("FFFFFFFF")));
}

TEST_CASE("GBK names become UTF-8") {
    CHECK(decodeGbk(hex("D5C5C8FD0000000000")) == "张三");
    CHECK(decodeGbk(hex("C4C8C0ADCCE1A1A4B0ACBACFC2F2CCE1BDAD")) == "娜拉提·艾合买提江");
    CHECK_FALSE(decodeGbk(hex("0000")));
    CHECK_FALSE(decodeGbk(hex("D5")));  // half a character
}

TEST_CASE("generation from the spec version") {
    CHECK(generationFromSpecVersion(std::string("3.00")) == 3);
    CHECK(generationFromSpecVersion(std::string("2.0")) == 2);
    CHECK(generationFromSpecVersion(std::string("1.00")) == 1);
    CHECK(generationFromSpecVersion(std::nullopt) == 1);
}
