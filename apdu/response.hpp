// Response APDUs: data followed by the two status bytes.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

struct ResponseApdu {
    Bytes data;
    std::uint8_t sw1 = 0;
    std::uint8_t sw2 = 0;

    std::uint16_t sw() const { return static_cast<std::uint16_t>((sw1 << 8) | sw2); }
    bool ok() const { return sw1 == 0x90 && sw2 == 0x00; }

    // Fails on fewer than two bytes.
    static Expected<ResponseApdu, std::string> parse(ByteView bytes);
    Bytes encode() const;
};

}  // namespace sscard::apdu
