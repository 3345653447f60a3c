// Command APDUs (ISO 7816-4): the four cases, short and extended length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

struct CommandApdu {
    std::uint8_t cla = 0x00;
    std::uint8_t ins = 0x00;
    std::uint8_t p1 = 0x00;
    std::uint8_t p2 = 0x00;
    Bytes data;                     // Lc = data.size(); up to 65535
    std::optional<std::size_t> le;  // expected response length; 1..65536, where 256 (short) and
                                    // 65536 (extended) are encoded as 00 / 00 00
    bool extended = false;          // encode Lc/Le in extended form even when short would do
                                    // (parse sets it for extended input, so encode round-trips)

    // Short form when data ≤ 255 bytes and le ≤ 256 (and !extended), extended form otherwise.
    // Throws std::length_error when data or le is out of range (a programming error, not card
    // input).
    Bytes encode() const;

    // Parses any of the four cases in short or extended form; an error message for anything else.
    static Expected<CommandApdu, std::string> parse(ByteView bytes);
};

// Convenience constructors for the commands this project sends.
CommandApdu selectByName(ByteView dfName, std::optional<std::size_t> le = std::nullopt);
CommandApdu selectByFid(std::uint16_t fid);
CommandApdu readRecord(std::uint8_t p1, std::uint8_t p2, std::size_t le);
CommandApdu getResponse(std::size_t le);

}  // namespace sscard::apdu
