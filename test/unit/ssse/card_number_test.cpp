#include <doctest/doctest.h>

#include <cstdio>

#include "apdu/ssse/card_number.hpp"

using namespace sscard::ssse;

TEST_CASE("published card numbers pass the check character") {
    for (const char* n : {"B7K334774", "KD5578904", "R47708862", "BA0010547", "548426015"}) {
        CAPTURE(n);
        CHECK(isValidCardNumber(n));
    }
}

TEST_CASE("a changed character or check character fails") {
    CHECK_FALSE(isValidCardNumber("B7K334775"));
    CHECK_FALSE(isValidCardNumber("B7K434774"));
    CHECK_FALSE(isValidCardNumber("b7K334774"));   // lower case is not in the alphabet
    CHECK_FALSE(isValidCardNumber("B7K33477"));    // too short
    CHECK_FALSE(isValidCardNumber("B7K3347740"));  // too long
}

TEST_CASE("check values 10 and 11 are written X and 0") {
    // Search the space for one prefix of each kind, then verify the rule end to end.
    bool sawX = false, sawZero = false;
    for (int i = 0; i < 2000 && !(sawX && sawZero); ++i) {
        char prefix[9];
        std::snprintf(prefix, sizeof prefix, "A%07d", i);
        auto c = cardNumberCheckCharacter(prefix);
        REQUIRE(c);
        int sum = 10 * 3;  // 'A' = 10 with weight 3
        static const int w[] = {7, 9, 10, 5, 8, 4, 2};
        for (int k = 0; k < 7; ++k) sum += (prefix[k + 1] - '0') * w[k];
        int expected = 11 - sum % 11;
        if (expected == 10) {
            CHECK(*c == 'X');
            sawX = true;
        } else if (expected == 11) {
            CHECK(*c == '0');
            sawZero = true;
        } else {
            CHECK(*c == '0' + expected);
        }
    }
    CHECK(sawX);
    CHECK(sawZero);
}

TEST_CASE("non-alphanumeric prefixes have no check character") {
    CHECK_FALSE(cardNumberCheckCharacter("B7K3347-").has_value());
    CHECK_FALSE(cardNumberCheckCharacter("B7K334").has_value());
}
