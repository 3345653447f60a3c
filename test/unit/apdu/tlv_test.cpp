#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include "apdu/tlv.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::apdu;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

const char* const kDfName = "7378312E73682EC9E7BBE1B1A3D5CF";

// The SSSE SELECT answer: 84 (17 bytes) + A5 (2 + 9 bytes) = 28 = 1C.
Bytes fci() {
    return hex(std::string("6F 1C 84 0F ") + kDfName + " A5 09 88 01 1E 9F0C 03 86 01 01");
}

}  // namespace

TEST_CASE("simple TLV: one EF05 record stream with padding") {
    const Bytes stream =
        hex("01 10 330300D15600000599110145FFFFFFFF"
            "02 01 33"
            "00 00"  // padding between records
            "03 04 332E3030"
            "04 0C 915600000234120034010A0C"
            "FF"
            "05 04 20101001"
            "06 04 20201001"
            "07 09 42374B333334373734"
            "00 00 00");
    auto parsed = parseSimpleTlv(stream);
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error()));
    REQUIRE(parsed->size() == 7);
    for (std::size_t i = 0; i < 7; ++i) CHECK((*parsed)[i].tag == i + 1);
    CHECK((*parsed)[0].value == hex("330300D15600000599110145FFFFFFFF"));
    CHECK((*parsed)[2].value == hex("332E3030"));
    CHECK((*parsed)[6].value == hex("42374B333334373734"));
}

TEST_CASE("simple TLV: FF length escape, empty values, empty input") {
    Bytes big = hex("08 FF 0102");
    big.resize(4 + 0x102, 0x41);
    big.push_back(0x09);
    big.push_back(0x00);
    auto parsed = parseSimpleTlv(big);
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[0].tag == 0x08);
    CHECK((*parsed)[0].value.size() == 0x102);
    CHECK((*parsed)[1].tag == 0x09);
    CHECK((*parsed)[1].value.empty());

    auto empty = parseSimpleTlv(Bytes{});
    REQUIRE(empty);
    CHECK(empty->empty());
    auto onlyPadding = parseSimpleTlv(hex("00 FF 00"));
    REQUIRE(onlyPadding);
    CHECK(onlyPadding->empty());
}

TEST_CASE("simple TLV: truncation is reported with its offset") {
    auto cut = parseSimpleTlv(hex("02 01 33 07 09 42374B"));
    REQUIRE_FALSE(cut);
    CHECK(contains(cut.error(), "offset 3"));
    CHECK(contains(cut.error(), "tag 07"));

    auto noLength = parseSimpleTlv(hex("02 01 33 07"));
    REQUIRE_FALSE(noLength);
    CHECK(contains(noLength.error(), "offset 3"));

    auto cutEscape = parseSimpleTlv(hex("05 FF 01"));
    REQUIRE_FALSE(cutEscape);
    CHECK(contains(cutEscape.error(), "offset 0"));

    auto cutLongValue = parseSimpleTlv(hex("05 FF 0100 AA"));
    REQUIRE_FALSE(cutLongValue);
    CHECK(contains(cutLongValue.error(), "256"));
}

TEST_CASE("BER-TLV: the SSSE FCI, nested") {
    auto parsed = parseBerTlv(fci());
    REQUIRE_MESSAGE(parsed, (parsed ? std::string() : parsed.error()));
    REQUIRE(parsed->size() == 1);
    const BerTlv& top = (*parsed)[0];
    CHECK(top.tag == 0x6F);
    CHECK(top.constructed);
    CHECK(top.value.size() == 0x1C);
    REQUIRE(top.children.size() == 2);
    CHECK(top.children[0].tag == 0x84);
    CHECK_FALSE(top.children[0].constructed);
    CHECK(top.children[0].value == hex(kDfName));
    CHECK(top.children[1].tag == 0xA5);
    CHECK(top.children[1].constructed);
    REQUIRE(top.children[1].children.size() == 2);

    const BerTlv* sfi = findBerTlv(*parsed, 0x88);
    REQUIRE(sfi != nullptr);
    CHECK(sfi->value == Bytes{0x1E});

    const BerTlv* alg = top.find(0x9F0C);
    REQUIRE(alg != nullptr);
    CHECK_FALSE(alg->constructed);  // 9F is a primitive class byte: its TLV content stays raw
    CHECK(alg->value == hex("860101"));
    auto inner = parseBerTlv(alg->value);
    REQUIRE(inner);
    const BerTlv* a86 = findBerTlv(*inner, 0x86);
    REQUIRE(a86 != nullptr);
    CHECK(a86->value == Bytes{0x01});

    CHECK(findBerTlv(*parsed, 0x9F0D) == nullptr);
    CHECK(top.find(0x6F) == &top);
}

TEST_CASE("BER-TLV: long length forms and multi-byte tags") {
    Bytes v81 = hex("C1 81 80");
    v81.resize(3 + 0x80, 0x11);
    auto p81 = parseBerTlv(v81);
    REQUIRE(p81);
    CHECK((*p81)[0].value.size() == 0x80);

    Bytes v82 = hex("C2 82 0100");
    v82.resize(4 + 0x100, 0x22);
    auto p82 = parseBerTlv(v82);
    REQUIRE(p82);
    CHECK((*p82)[0].value.size() == 0x100);

    Bytes v83 = hex("C3 83 010000");
    v83.resize(5 + 0x10000, 0x33);
    auto p83 = parseBerTlv(v83);
    REQUIRE(p83);
    CHECK((*p83)[0].value.size() == 0x10000);

    auto threeByteTag = parseBerTlv(hex("DF8102 01 AA 5F20 02 4142"));
    REQUIRE(threeByteTag);
    REQUIRE(threeByteTag->size() == 2);
    CHECK((*threeByteTag)[0].tag == 0xDF8102);
    CHECK((*threeByteTag)[0].value == Bytes{0xAA});
    CHECK((*threeByteTag)[1].tag == 0x5F20);
}

TEST_CASE("BER-TLV: padding between and after objects is skipped") {
    auto parsed = parseBerTlv(hex("00 84 01 AA FF 85 00 00 00"));
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[1].tag == 0x85);
    CHECK((*parsed)[1].value.empty());
}

TEST_CASE("BER-TLV: malformed input is rejected with an offset") {
    // The FCI with the outer length one too long: the A5 child runs past its parent.
    auto wrongOuter = parseBerTlv(
        hex(std::string("6F 1D 84 0F ") + kDfName + " A5 09 88 01 1E 9F0C 03 86 01 01"));
    REQUIRE_FALSE(wrongOuter);
    CHECK(contains(wrongOuter.error(), "offset 0"));

    // The A5 length one too long: the child overruns the parent's value (caught in the child).
    auto wrongInner = parseBerTlv(
        hex(std::string("6F 1C 84 0F ") + kDfName + " A5 0A 88 01 1E 9F0C 03 86 01 01"));
    REQUIRE_FALSE(wrongInner);
    CHECK(contains(wrongInner.error(), "offset 19"));

    auto indefinite = parseBerTlv(hex("6F 80 84 00 0000"));
    REQUIRE_FALSE(indefinite);
    CHECK(contains(indefinite.error(), "indefinite"));

    auto tooLongLength = parseBerTlv(hex("84 84 00000001 AA"));
    REQUIRE_FALSE(tooLongLength);
    CHECK(contains(tooLongLength.error(), "length"));

    auto longTag = parseBerTlv(hex("9F818181 01 AA"));
    REQUIRE_FALSE(longTag);
    CHECK(contains(longTag.error(), "3 bytes"));

    auto cutTag = parseBerTlv(hex("84 01 AA 9F"));
    REQUIRE_FALSE(cutTag);
    CHECK(contains(cutTag.error(), "offset 3"));

    auto cutTag2 = parseBerTlv(hex("9F 81"));
    REQUIRE_FALSE(cutTag2);

    auto noLength = parseBerTlv(hex("84"));
    REQUIRE_FALSE(noLength);
    CHECK(contains(noLength.error(), "no length"));

    auto cutLengthBytes = parseBerTlv(hex("84 82 01"));
    REQUIRE_FALSE(cutLengthBytes);
    CHECK(contains(cutLengthBytes.error(), "cut short"));

    auto cutValue = parseBerTlv(hex("84 05 0102"));
    REQUIRE_FALSE(cutValue);
    CHECK(contains(cutValue.error(), "needs 5"));
}

TEST_CASE("BER-TLV: nesting depth is bounded") {
    // Eight constructed levels are fine, nine are not.
    auto nest = [](int levels) {
        Bytes b{0x80, 0x00};  // innermost primitive
        for (int i = 0; i < levels; ++i) {
            Bytes outer{0xA1, static_cast<std::uint8_t>(b.size())};
            outer.insert(outer.end(), b.begin(), b.end());
            b = outer;
        }
        return b;
    };
    auto eight = parseBerTlv(nest(8));
    REQUIRE_MESSAGE(eight, (eight ? std::string() : eight.error()));
    CHECK(findBerTlv(*eight, 0x80) != nullptr);
    auto nine = parseBerTlv(nest(9));
    REQUIRE_FALSE(nine);
    CHECK(contains(nine.error(), "deeper"));
}
