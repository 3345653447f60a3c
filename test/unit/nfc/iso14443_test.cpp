#include <doctest/doctest.h>

#include <nfc/nfc.h>

#include "apdu/nfc/iso14443.hpp"
#include "apdu/reader.hpp"

using namespace sscard;
using namespace sscard::apdu;
using namespace sscard::apdu::nfc;

TEST_CASE("historical bytes follow T0 and the interface bytes it announces") {
    // T0 78: TA TB TC present, FSCI 8; then 80 81 02; then the historical bytes.
    const Bytes ats = *fromHex(
        "78808102"
        "00814E43238697153300100255");
    CHECK(toHex(historicalBytesFromAts(ats)) == "00814E43238697153300100255");
    // T0 40: only TC.
    CHECK(toHex(historicalBytesFromAts(*fromHex("4002AABB"))) == "AABB");
    // T0 00: none.
    CHECK(toHex(historicalBytesFromAts(*fromHex("00C1"))) == "C1");
    // Interface bytes announced but missing; empty ATS.
    CHECK(historicalBytesFromAts(*fromHex("7080")).empty());
    CHECK(historicalBytesFromAts(Bytes{}).empty());
    CHECK(historicalBytesFromAts(*fromHex("70808102")).empty());
}

TEST_CASE("the pseudo-ATR is PC/SC part 3's, as a PC/SC contactless reader shows the card") {
    // The same bytes test/sim/ssse_card.build_atr gives for the contactless profile.
    const Bytes hist = *fromHex("00814E43238697153300100255");
    const Bytes atr = pseudoAtr(hist);
    CHECK(toHex(atr) ==
          "3B8D8001"
          "00814E43238697153300100255"
          "D3");
    CHECK(isContactlessPseudoAtr(atr));
    CHECK(classifyInterface("anything", atr) == Interface::contactless);

    std::uint8_t x = 0;
    for (std::size_t i = 1; i < atr.size(); ++i) x ^= atr[i];
    CHECK(x == 0);  // TCK makes the XOR of T0..TCK zero

    CHECK(toHex(pseudoAtr(Bytes{})) == "3B80800101");  // no historical bytes: 3B 80 80 01 TCK
    Bytes sixteen(16, 0x11);
    CHECK(pseudoAtr(sixteen).size() == 4 + 15 + 1);  // at most 15 kept
}

TEST_CASE("commands libnfc cannot carry are refused") {
    CHECK_FALSE(refuseCommand(Bytes(4, 0)).has_value());
    CHECK_FALSE(refuseCommand(Bytes(262, 0)).has_value());
    auto tooLong = refuseCommand(Bytes(263, 0));
    REQUIRE(tooLong.has_value());
    CHECK(tooLong->kind == TransportErrorKind::refused);
    CHECK(tooLong->message.find("263") != std::string::npos);
    CHECK(refuseCommand(Bytes(70000, 0))->kind == TransportErrorKind::refused);
    CHECK(refuseCommand(Bytes{})->kind == TransportErrorKind::refused);
}

TEST_CASE("libnfc results map to transport error kinds") {
    CHECK(errorKind(NFC_ERFTRANS) == TransportErrorKind::card_removed);
    CHECK(errorKind(NFC_ETGRELEASED) == TransportErrorKind::card_removed);
    CHECK(errorKind(NFC_EIO) == TransportErrorKind::reader_gone);
    CHECK(errorKind(NFC_ENOTSUCHDEV) == TransportErrorKind::reader_gone);
    CHECK(errorKind(NFC_ETIMEOUT) == TransportErrorKind::timeout);
    CHECK(errorKind(NFC_EOVFLOW) == TransportErrorKind::comm_error);
    CHECK(errorKind(NFC_EINVARG) == TransportErrorKind::other);
    CHECK(needsReopen(NFC_EIO));
    CHECK(needsReopen(NFC_ETIMEOUT));
    CHECK_FALSE(needsReopen(NFC_ERFTRANS));
    CHECK_FALSE(needsReopen(NFC_EINVARG));
}
