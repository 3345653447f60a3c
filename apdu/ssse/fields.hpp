// Decoding the card's field formats: `an` (ASCII, GBK for names; right-padded with 00),
// `cn` (BCD right-padded with F), dates as BCD YYYYMMDD. Empty fields (all 00 or all FF) → nullopt.
#pragma once

#include <optional>
#include <string>

#include "apdu/ssse/card_data.hpp"
#include "base/bytes.hpp"

namespace sscard::ssse {

bool isEmptyField(ByteView value);

// Printable ASCII with trailing 00/FF/space padding removed; nullopt when empty or not ASCII.
std::optional<std::string> decodeAn(ByteView value);

// GBK (read as GB18030, its superset) to UTF-8, padding removed; nullopt when empty or undecodable.
std::optional<std::string> decodeGbk(ByteView value);

// BCD digits with trailing F nibbles removed ("330300"); nullopt when empty or not BCD.
std::optional<std::string> decodeCnDigits(ByteView value);

// Upper-case hex of the whole value (card id, issuer id); nullopt when empty.
std::optional<std::string> decodeHex(ByteView value);

// 4 BCD bytes YYYYMMDD; nullopt when empty or not a calendar date.
std::optional<Date> decodeDate(ByteView value);

// "3.00" → 3, "2.0" → 2, "1.00" → 1, empty → 1 (1st-generation cards may leave it empty).
int generationFromSpecVersion(const std::optional<std::string>& specVersion);

}  // namespace sscard::ssse
