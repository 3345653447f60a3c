// Byte strings and their hex form (upper case, as the JSON contract wants).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sscard {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// "3B6D00" for {0x3B,0x6D,0x00}; with a separator, "3B 6D 00".
std::string toHex(ByteView bytes, std::string_view separator = "");

// Accepts upper or lower case, ignores spaces, ':' and '-' between digits; nullopt on an odd
// number of digits or any other character.
std::optional<Bytes> fromHex(std::string_view text);

inline Bytes concat(ByteView a, ByteView b) {
    Bytes out(a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

}  // namespace sscard
