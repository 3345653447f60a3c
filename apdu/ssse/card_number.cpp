#include "apdu/ssse/card_number.hpp"

namespace sscard::ssse {

std::optional<char> cardNumberCheckCharacter(std::string_view first8) {
    static constexpr int kWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    if (first8.size() != 8) return std::nullopt;
    int sum = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        char c = first8[i];
        int value;
        if (c >= '0' && c <= '9') {
            value = c - '0';
        } else if (c >= 'A' && c <= 'Z') {
            value = c - 'A' + 10;
        } else {
            return std::nullopt;
        }
        sum += value * kWeights[i];
    }
    int check = 11 - (sum % 11);
    if (check == 10) return 'X';
    if (check == 11) return '0';
    return static_cast<char>('0' + check);
}

bool isValidCardNumber(std::string_view number) {
    if (number.size() != 9) return false;
    auto expected = cardNumberCheckCharacter(number.substr(0, 8));
    return expected && *expected == number[8];
}

}  // namespace sscard::ssse
