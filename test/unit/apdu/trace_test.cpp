#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include "apdu/trace.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::apdu;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("VERIFY: the PIN never appears in the trace") {
    const Bytes verify = hex("00 20 00 00 03 12 34 56");
    CHECK(carriesSecret(verify));
    const std::string line = formatCommandForTrace(verify);
    CHECK(line == "00 20 00 00 03 ** ** **");
    CHECK_FALSE(contains(line, "12"));
    CHECK_FALSE(contains(line, "34"));
    CHECK_FALSE(contains(line, "56"));
}

TEST_CASE("CHANGE PIN 80 5E and PIN reset 84 24 are masked whatever the CLA") {
    const Bytes change = hex("80 5E 01 00 07 123456 FF 654321");
    CHECK(carriesSecret(change));
    CHECK(formatCommandForTrace(change) == "80 5E 01 00 07 ** ** ** ** ** ** **");

    const Bytes reset = hex("84 24 00 01 0C 1122334455667788 A1B2C3D4");
    CHECK(carriesSecret(reset));
    const std::string line = formatCommandForTrace(reset);
    CHECK(line.rfind("84 24 00 01 0C", 0) == 0);
    CHECK_FALSE(contains(line, "11"));
    CHECK_FALSE(contains(line, "88"));
    CHECK_FALSE(contains(line, "D4"));

    const Bytes rrc = hex("00 2C 00 00 04 98765432");
    CHECK(carriesSecret(rrc));
    CHECK(formatCommandForTrace(rrc) == "00 2C 00 00 04 ** ** ** **");
}

TEST_CASE("PIN commands: Le and extended forms are masked too") {
    // Case 4 VERIFY: Le masked as well (a wrong Lc would otherwise show a PIN byte as Le).
    CHECK(formatCommandForTrace(hex("00 20 00 00 03 12 34 56 00")) == "00 20 00 00 03 ** ** ** **");
    // Lc 02 with three PIN bytes parses as case 4 with Le = 56: 56 must not show.
    const std::string wrongLc = formatCommandForTrace(hex("00 20 00 00 02 12 34 56"));
    CHECK_FALSE(contains(wrongLc, "56"));
    // Extended Lc shown, data masked.
    CHECK(formatCommandForTrace(hex("00 20 00 00 00 00 03 12 34 56")) ==
          "00 20 00 00 00 00 03 ** ** **");
    // An extended-Le shape for a PIN INS: nothing after the header shows.
    CHECK(formatCommandForTrace(hex("00 20 00 00 00 12 34")) == "00 20 00 00 ** ** **");
}

TEST_CASE("unparseable PIN commands: everything after the header is masked") {
    const Bytes noLc = hex("00 20 00 00 12 34 56");  // Lc forgotten
    CHECK(carriesSecret(noLc));
    const std::string line = formatCommandForTrace(noLc);
    CHECK(line == "00 20 00 00 ** ** **");
    CHECK_FALSE(contains(line, "12"));

    const Bytes cut = hex("00 20 00 00 06 12 34 56");  // Lc larger than data
    CHECK(formatCommandForTrace(cut) == "00 20 00 00 ** ** ** **");
}

TEST_CASE("commands without a PIN data field are shown as they are") {
    CHECK_FALSE(carriesSecret(hex("00 20 00 00")));     // VERIFY case 1: ask the counter
    CHECK_FALSE(carriesSecret(hex("00 20 00 00 00")));  // 5 bytes carry no PIN
    CHECK(formatCommandForTrace(hex("00 20 00 00 00")) == "00 20 00 00 00");
    CHECK_FALSE(carriesSecret(hex("00 20")));
    CHECK(formatCommandForTrace(hex("00 20")) == "00 20");
    CHECK(formatCommandForTrace(Bytes{}).empty());

    const Bytes select = hex("00 A4 04 00 0F 7378312E73682EC9E7BBE1B1A3D5CF");
    CHECK_FALSE(carriesSecret(select));
    CHECK(formatCommandForTrace(select) ==
          "00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF");
    CHECK(formatCommandForTrace(hex("00 B2 07 2C 0B")) == "00 B2 07 2C 0B");
    // An INS that merely resembles a PIN byte in another position changes nothing.
    CHECK(formatCommandForTrace(hex("00 B0 20 24 02 5E 2C")) == "00 B0 20 24 02 5E 2C");
}

TEST_CASE("answers: a SELECT's FCI and status words in full - holder data masked") {
    const Bytes select = hex("00 A4 04 00 02 3F 00");
    CHECK(formatResponseForTrace(select, hex("6F 1C 84 90 00")) == "6F 1C 84 90 00");
    CHECK(formatResponseForTrace(hex("00 20 00 00 03 12 34 56"), hex("63 C2")) == "63 C2");
    // EF06 through READ RECORD: an SSN and a name (GB 18030 "张三") must not show.
    const Bytes ssnRecord = hex("08 12 33 01 02 19 90 01 01 12 34 09 04 D5 C5 C8 FD 90 00");
    for (const char* read :
         {"00 B2 08 2C 00", "00 B0 86 00 00", "00 C0 00 00 12", "80 CA 00 00 00"}) {
        const std::string line = formatResponseForTrace(hex(read), ssnRecord);
        CHECK(line == "[17 bytes masked] 90 00");
        CHECK(line.find("33 01 02") == std::string::npos);
        CHECK(line.find("D5 C5") == std::string::npos);
    }
    CHECK(formatResponseForTrace(hex("00 B2 08 2C 00"), hex("6A 83")) == "6A 83");
}
