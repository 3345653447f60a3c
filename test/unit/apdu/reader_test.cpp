#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include "apdu/reader.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::apdu;

TEST_CASE("PC/SC part 3 pseudo-ATR") {
    CHECK(isContactlessPseudoAtr(hex("3B 8A 80 01 00 81 4E 43 23 86 97 15 99 00 1A")));
    CHECK(isContactlessPseudoAtr(hex("3B 80 80 01 01")));
    CHECK_FALSE(isContactlessPseudoAtr(hex("3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00")));
    CHECK_FALSE(isContactlessPseudoAtr(hex("3B 8A 80 02")));
    CHECK_FALSE(isContactlessPseudoAtr(hex("3F 8A 80 01")));
    CHECK_FALSE(isContactlessPseudoAtr(hex("3B 8A 81 01")));
    CHECK_FALSE(isContactlessPseudoAtr(hex("3B 8A 80")));
    CHECK_FALSE(isContactlessPseudoAtr(Bytes{}));
}

TEST_CASE("classifyInterface: ATR first, then the reader's name") {
    const Bytes contactAtr = hex("3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00");
    const Bytes pseudo = hex("3B 8A 80 01 00 81 4E 43 23 86 97 15 99 00 1A");
    CHECK(classifyInterface("Virtual PCD 00 00", contactAtr) == Interface::contact);
    CHECK(classifyInterface("Virtual PCD 00 00", pseudo) == Interface::contactless);
    CHECK(classifyInterface("Virtual PCD 00 00", {}) == Interface::contact);

    CHECK(classifyInterface("ACS ACR122U PICC Interface 00 00", {}) == Interface::contactless);
    CHECK(classifyInterface("ACS ACR1252 1S CL Reader PICC 00 00", {}) == Interface::contactless);
    CHECK(classifyInterface("OMNIKEY CardMan 5x21-CL 0", {}) == Interface::contactless);
    CHECK(classifyInterface("HID OMNIKEY 5422CL Smartcard Reader", {}) == Interface::contactless);
    CHECK(classifyInterface("Generic contactless reader", {}) == Interface::contactless);
    CHECK(classifyInterface("pn532_uart:/dev/ttyUSB0 NFC", {}) == Interface::contactless);
    CHECK(classifyInterface("Gemalto PC Twin Reader 00 00", {}) == Interface::contact);
    CHECK(classifyInterface("Cherry Client Reader", {}) == Interface::contact);
    CHECK(classifyInterface("OMNIKEY CardMan 3121 00 00", {}) == Interface::contact);
    // Name matching is case-insensitive.
    CHECK(classifyInterface("some picc reader", contactAtr) == Interface::contactless);
}
