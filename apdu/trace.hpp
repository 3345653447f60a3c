// APDU traces for technicians and debug logs. The one place that decides what a trace may show:
// the data field of PIN commands (VERIFY 20, CHANGE REFERENCE DATA 24, CHANGE PIN 5E, RESET RETRY
// COUNTER 2C) is replaced by "**" per byte, whatever the CLA, and so is the data of the PSAM's
// 80 FA (it encrypts the PIN block of an issuer PIN reset). So is Le (with a wrong Lc the last
// PIN byte would parse as Le), and everything after the header when such a command does not parse.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace sscard::apdu {

// True when the command's data field carries PIN material and must never be shown.
bool carriesSecret(ByteView command);

// "00 20 00 00 03 ** ** **" / "00 A4 04 00 0F 73 78 31 …"
std::string formatCommandForTrace(ByteView command);
// "6F 1A … 90 00"
std::string formatResponseForTrace(ByteView response);

// Receives one already-redacted line per command or response: "> …" or "< …".
using Tracer = std::function<void(std::string_view line)>;

}  // namespace sscard::apdu
