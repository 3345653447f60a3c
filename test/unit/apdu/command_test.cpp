#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include <stdexcept>

#include "apdu/command.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::apdu;

namespace {

CommandApdu make(std::size_t dataLen, std::optional<std::size_t> le) {
    CommandApdu c;
    c.cla = 0x00;
    c.ins = 0xB0;
    c.p1 = 0x01;
    c.p2 = 0x02;
    c.data.resize(dataLen);
    for (std::size_t i = 0; i < dataLen; ++i) c.data[i] = static_cast<std::uint8_t>(i * 7 + 1);
    c.le = le;
    return c;
}

// Parses and checks that encoding gives the very same bytes back.
CommandApdu roundTrip(const Bytes& bytes) {
    auto parsed = CommandApdu::parse(bytes);
    REQUIRE_MESSAGE(parsed.has_value(), (parsed ? std::string() : parsed.error()));
    CHECK(parsed->encode() == bytes);
    return *parsed;
}

}  // namespace

TEST_CASE("case 1: header only") {
    CommandApdu c = make(0, std::nullopt);
    CHECK(c.encode() == hex("00B00102"));
    CommandApdu p = roundTrip(hex("00B00102"));
    CHECK(p.ins == 0xB0);
    CHECK(p.p1 == 0x01);
    CHECK(p.p2 == 0x02);
    CHECK(p.data.empty());
    CHECK_FALSE(p.le.has_value());
    CHECK_FALSE(p.extended);
}

TEST_CASE("case 2S: Le 1..256, 256 written as 00") {
    CHECK(make(0, 1).encode() == hex("00B0010201"));
    CHECK(make(0, 255).encode() == hex("00B00102FF"));
    CHECK(make(0, 256).encode() == hex("00B0010200"));
    CHECK(roundTrip(hex("00B0010200")).le == 256u);
    CHECK(roundTrip(hex("00B001020B")).le == 11u);
}

TEST_CASE("case 2E: Le 257..65536, 00 Le1 Le2 with 65536 written as 00 00") {
    CHECK(make(0, 257).encode() == hex("00B00102000101"));
    CHECK(make(0, 65535).encode() == hex("00B00102 00FFFF"));
    CHECK(make(0, 65536).encode() == hex("00B00102 000000"));
    CommandApdu p = roundTrip(hex("00B00102000000"));
    CHECK(p.le == 65536u);
    CHECK(p.extended);
    CHECK(roundTrip(hex("00B00102000101")).le == 257u);
}

TEST_CASE("case 3S and 3E: data 255 is short, 256 is extended") {
    Bytes s = make(255, std::nullopt).encode();
    REQUIRE(s.size() == 4 + 1 + 255);
    CHECK(s[4] == 0xFF);
    CHECK(roundTrip(s).data.size() == 255);

    Bytes e = make(256, std::nullopt).encode();
    REQUIRE(e.size() == 4 + 3 + 256);
    CHECK(e[4] == 0x00);
    CHECK(e[5] == 0x01);
    CHECK(e[6] == 0x00);
    CommandApdu p = roundTrip(e);
    CHECK(p.data == make(256, std::nullopt).data);
    CHECK_FALSE(p.le.has_value());

    Bytes max = make(65535, std::nullopt).encode();
    REQUIRE(max.size() == 4 + 3 + 65535);
    CHECK(max[5] == 0xFF);
    CHECK(max[6] == 0xFF);
    CHECK(roundTrip(max).data.size() == 65535);

    CHECK(make(3, std::nullopt).encode() == hex("00B00102 03 01080F"));
}

TEST_CASE("case 4S and 4E") {
    CHECK(make(2, 256).encode() == hex("00B00102 02 0108 00"));
    CHECK(make(2, 16).encode() == hex("00B00102 02 0108 10"));
    CommandApdu p = roundTrip(hex("00B00102 02 0108 10"));
    CHECK(p.data == hex("0108"));
    CHECK(p.le == 16u);

    // Le 257 forces extended even with two data bytes: 00 Lc1 Lc2 data Le1 Le2.
    CHECK(make(2, 257).encode() == hex("00B00102 000002 0108 0101"));
    CHECK(make(2, 65536).encode() == hex("00B00102 000002 0108 0000"));
    CommandApdu q = roundTrip(hex("00B00102 000002 0108 0000"));
    CHECK(q.le == 65536u);
    CHECK(q.data == hex("0108"));

    Bytes big = make(256, 1).encode();
    REQUIRE(big.size() == 4 + 3 + 256 + 2);
    CHECK(big[big.size() - 2] == 0x00);
    CHECK(big[big.size() - 1] == 0x01);
    CHECK(roundTrip(big).le == 1u);

    Bytes both = make(65535, 65536).encode();
    CHECK(both.size() == 4 + 3 + 65535 + 2);
    CHECK(roundTrip(both).le == 65536u);
}

TEST_CASE("extended form kept when parsed from extended input with small values") {
    // 00 Lc=0003 data, Le 0010: short would do, but the input was extended.
    Bytes in = hex("00B00102 000003 AABBCC 0010");
    CommandApdu p = roundTrip(in);
    CHECK(p.extended);
    CHECK(p.le == 16u);
    CommandApdu shortForm = p;
    shortForm.extended = false;
    CHECK(shortForm.encode() == hex("00B00102 03 AABBCC 10"));
}

TEST_CASE("encode throws length_error on out-of-range lengths") {
    CHECK_THROWS_AS(make(65536, std::nullopt).encode(), std::length_error);
    CHECK_THROWS_AS(make(0, 0).encode(), std::length_error);
    CHECK_THROWS_AS(make(0, 65537).encode(), std::length_error);
    CHECK_THROWS_AS(make(1, 65537).encode(), std::length_error);
    CHECK_NOTHROW(make(65535, 65536).encode());
}

TEST_CASE("parse rejects malformed commands with a message") {
    auto tooShort = CommandApdu::parse(hex("00A404"));
    REQUIRE_FALSE(tooShort);
    CHECK(tooShort.error().find("3 byte(s)") != std::string::npos);

    auto missing = CommandApdu::parse(hex("00A40400 05 112233"));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().find("Lc 5 but only 3 data bytes") != std::string::npos);

    auto extra = CommandApdu::parse(hex("00A40400 02 1122 3344"));
    REQUIRE_FALSE(extra);
    CHECK(extra.error().find("Lc 2") != std::string::npos);

    CHECK_FALSE(CommandApdu::parse(hex("00A40400 00 11")));         // 6 bytes: cut extended
    CHECK_FALSE(CommandApdu::parse(hex("00A40400 0000 00 11")));    // extended Lc 0
    CHECK_FALSE(CommandApdu::parse(hex("00A40400 000003 1122")));   // extended Lc > data
    CHECK_FALSE(CommandApdu::parse(hex("00A40400 000001 11 22")));  // 4E needs 2 Le bytes
    CHECK_FALSE(CommandApdu::parse(hex("00A40400 000001 11 223344")));
    CHECK_FALSE(CommandApdu::parse(Bytes{}));
}

TEST_CASE("convenience constructors") {
    const Bytes name = hex("7378312E73682EC9E7BBE1B1A3D5CF");
    CHECK(selectByName(name).encode() == hex("00A40400 0F 7378312E73682EC9E7BBE1B1A3D5CF"));
    CHECK(selectByName(name, 256).encode() == hex("00A40400 0F 7378312E73682EC9E7BBE1B1A3D5CF 00"));
    CHECK(selectByFid(0xDF04).encode() == hex("00A40000 02 DF04"));
    CHECK(readRecord(0x07, 0x2C, 0x0B).encode() == hex("00B2072C0B"));
    CHECK(getResponse(0x1C).encode() == hex("00C000001C"));
    CHECK(getResponse(256).encode() == hex("00C0000000"));
}
