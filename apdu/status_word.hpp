// What a status word means, in words a technician can act on.
#pragma once

#include <cstdint>
#include <string>

namespace sscard::apdu {

enum class SwClass {
    success,          // 9000, 61xx
    warning,          // 62xx, 63xx (including 63Cx wrong PIN)
    execution_error,  // 64xx, 65xx, 66xx
    checking_error,   // 67xx .. 6Fxx
    proprietary,      // anything else (e.g. 93xx application blocked)
};

SwClass classify(std::uint16_t sw);

// e.g. 9000 → "success", 63C2 → "wrong PIN, 2 tries left", 6A82 → "file or application not found",
// 61xx → "success, xx bytes available (GET RESPONSE)". Unknown words get a class-level description.
std::string describe(std::uint16_t sw);

// Where a status word came from when that changes its meaning: a pinpad reader (PC/SC part 10
// VERIFY/MODIFY PIN DIRECT) answers 6400 timeout, 6401 cancelled, 6402 new PINs differ,
// 6403 wrong PIN length; elsewhere 64xx are ISO execution errors.
enum class SwContext { general, pin_entry };
std::string describe(std::uint16_t sw, SwContext context);

// 63Cx → x; nullopt-like -1 for any other word.
int pinTriesLeft(std::uint16_t sw);

}  // namespace sscard::apdu
