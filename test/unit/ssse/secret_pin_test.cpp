// SecretPin: which digits make a PIN, its BCD form, and that moving or taking it wipes the source.
#include <doctest/doctest.h>

#include <string>

#include "apdu/ssse/secret_pin.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("SecretPin: digits only, 4..16, BCD with F padding") {
    CHECK(SecretPin::fromDigits("1234"));
    CHECK(SecretPin::fromDigits("1234567890123456"));
    CHECK_FALSE(SecretPin::fromDigits("123"));
    CHECK_FALSE(SecretPin::fromDigits("12345678901234567"));
    CHECK_FALSE(SecretPin::fromDigits("12a456"));
    CHECK_FALSE(SecretPin::fromDigits(" 123456"));
    CHECK(SecretPin::fromDigits("123").error().code == ErrorCode::usage);
    CHECK(toHex(pin("12345").bcd().view()) == "12345F");
    CHECK(toHex(pin("123456").bcd().view()) == "123456");
    std::string text = "246813";
    auto p = SecretPin::take(text);
    REQUIRE(p);
    CHECK(text.empty());  // the source is wiped
    SecretPin moved = std::move(*p);
    CHECK(moved.length() == 6);
    CHECK(p->length() == 0);  // NOLINT(bugprone-use-after-move)
}
