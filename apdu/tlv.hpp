// TLV codings found on the card: simple TLV (records: tag 1 byte, length 1 byte, or FF + 2 bytes)
// and BER-TLV (the FCI returned by SELECT). Parsers never read past their input and report where
// a malformed structure starts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

struct SimpleTlv {
    std::uint8_t tag = 0;
    Bytes value;
};

// Parses a concatenation of simple-TLV objects (one record, or several records read at once).
// Padding bytes 00 or FF between objects (where a tag is expected) are skipped.
Expected<std::vector<SimpleTlv>, std::string> parseSimpleTlv(ByteView bytes);

struct BerTlv {
    std::uint32_t tag = 0;  // up to 3 tag bytes, e.g. 0x9F0C
    bool constructed = false;
    Bytes value;                   // raw value (also for constructed objects)
    std::vector<BerTlv> children;  // parsed value of constructed objects

    // Depth-first search for the first object with this tag (this object included).
    const BerTlv* find(std::uint32_t wanted) const;
};

// Parses a sequence of BER-TLV objects, recursing into constructed ones (bounded depth).
Expected<std::vector<BerTlv>, std::string> parseBerTlv(ByteView bytes);

const BerTlv* findBerTlv(const std::vector<BerTlv>& objects, std::uint32_t wanted);

}  // namespace sscard::apdu
