// APDU traces for technicians and debug logs. The one place that decides what a trace may show:
// the data field of PIN commands (VERIFY 20, CHANGE REFERENCE DATA 24, CHANGE PIN 5E, RESET RETRY
// COUNTER 2C) is replaced by "**" per byte, whatever the CLA, and so is the data of the PSAM's
// 80 FA (it encrypts the PIN block of an issuer PIN reset). So is Le (with a wrong Lc the last
// PIN byte would parse as Le), and everything after the header when such a command does not parse.
// Answers that may carry holder data (the SSN, the name, the card number: what READ BINARY B0/B1,
// READ RECORD B2/B3, GET RESPONSE C0 and GET DATA CA/CB return) show only their length and status
// word: "[24 bytes masked] 90 00".
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace sscard::apdu {

// True when the command's data field carries PIN material and must never be shown.
bool carriesSecret(ByteView command);
// True when the answer to `command` may carry holder data and its data must not be shown.
bool answerCarriesHolderData(ByteView command);

// "00 20 00 00 03 ** ** **" / "00 A4 04 00 0F 73 78 31 …"
std::string formatCommandForTrace(ByteView command);
// "6F 1A … 90 00" (a SELECT's FCI), "[24 bytes masked] 90 00" (a READ RECORD's answer).
std::string formatResponseForTrace(ByteView command, ByteView response);

// Receives one already-redacted line per command or response: "> …" or "< …".
using Tracer = std::function<void(std::string_view line)>;

}  // namespace sscard::apdu
