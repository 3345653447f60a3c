#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apdu/pcsc/context.hpp"

using namespace sscard;
using namespace sscard::apdu::pcsc;

TEST_CASE("SCardListReaders multi-string splits into names") {
    const char data[] = "Virtual PCD 00 00\0Virtual PCD 00 01\0";  // plus the literal's own NUL
    CHECK(splitMultiString(data, sizeof data) ==
          std::vector<std::string>{"Virtual PCD 00 00", "Virtual PCD 00 01"});
    CHECK(splitMultiString("\0", 1).empty());
    CHECK(splitMultiString("", 0).empty());
    // No final terminator (a buffer cut short): the last name is still taken.
    const char cut[] = {'a', '\0', 'b'};
    CHECK(splitMultiString(cut, sizeof cut) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("reader state bits become presence, ATR and known-ness") {
    const unsigned char atr[] = {0x3B, 0x6D, 0x00, 0x00};
    ReaderState present = toReaderState(
        "r", SCARD_STATE_CHANGED | SCARD_STATE_PRESENT | SCARD_STATE_INUSE | (3u << 16), atr, 4);
    CHECK(present.known);
    CHECK(present.cardPresent);
    CHECK(present.atr == Bytes{0x3B, 0x6D, 0x00, 0x00});

    ReaderState empty = toReaderState("r", SCARD_STATE_EMPTY, atr, 4);
    CHECK(empty.known);
    CHECK_FALSE(empty.cardPresent);
    CHECK(empty.atr.empty());

    ReaderState gone = toReaderState("r", SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE, atr, 0);
    CHECK_FALSE(gone.known);
    CHECK_FALSE(gone.cardPresent);

    // An ATR length beyond the buffer is clamped, never read past.
    unsigned char big[MAX_ATR_SIZE] = {};
    CHECK(toReaderState("r", SCARD_STATE_PRESENT, big, 1000).atr.size() == MAX_ATR_SIZE);
}
