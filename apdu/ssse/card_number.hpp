// 卡号 check character: 8 characters [A-Z0-9] then a check character. Weights 3,7,9,10,5,8,4,2 over
// the first 8 (digits as themselves, A=10 … Z=35); C = 11 − (sum mod 11), 10 is written X, 11 is 0.
#pragma once

#include <optional>
#include <string_view>

namespace sscard::ssse {

// The check character for the first 8 characters, or nullopt if they are not [A-Z0-9]{8}.
std::optional<char> cardNumberCheckCharacter(std::string_view first8);

// True when the number has 9 characters and its last one is the right check character.
bool isValidCardNumber(std::string_view number);

}  // namespace sscard::ssse
