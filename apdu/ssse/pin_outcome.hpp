// What a PIN command's status word means for the holder (pin_wrong with tries_left, pin_blocked,
// …), and where the PIN stands after a PIN-changing command failed (Error::pin_state).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// Where the PIN stands after a failed PIN-changing command (Error::pin_state). A transport failure
// while the command was under way is "unknown": the card may have acted on it before it left.
inline constexpr const char* kPinUnchanged = "unchanged";
inline constexpr const char* kPinUnknown = "unknown";

Error withPinState(Error e, const char* state);
// The failure, if any, marked kPinUnchanged.
Expected<void, Error> unchangedOnError(Expected<void, Error> r);

// The outcome of a PIN-checking command (VERIFY, CHANGE PIN, PIN pad): 9000 ok; 63Cx pin_wrong with
// x tries left (63C0: pin_blocked, that was the last try); 6983 pin_blocked; the PIN pad's 6400
// timeout, 6401 cancelled, 6402 new PINs differ, 6403 wrong length; 6A88 no PIN; otherwise the
// status word as card_error.
Expected<void, Error> pinOutcome(std::uint16_t sw, std::string_view step);

}  // namespace sscard::ssse
