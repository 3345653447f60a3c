// Shared by the unit tests: bytes from hex written in a test (a typo fails the test, not a crash).
#pragma once

#include <doctest/doctest.h>

#include <string_view>

#include "base/bytes.hpp"

namespace sscard::test {

inline Bytes hex(std::string_view text) {
    auto bytes = fromHex(text);
    REQUIRE(bytes.has_value());
    return *bytes;
}

}  // namespace sscard::test
