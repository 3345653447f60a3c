// The new-PIN policy: each rule, and the error naming it.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "apdu/ssse/pin_policy.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("PIN policy") {
    PinPolicy policy;
    auto weak = [&](std::string_view digits, PinPolicyContext ctx = {}) {
        return findWeakness(policy, pin(digits), ctx);
    };
    CHECK_FALSE(weak("246813"));
    CHECK(weak("24681") == PinWeakness::length);
    CHECK(weak("2468135") == PinWeakness::length);
    CHECK(weak("123456") == PinWeakness::initial_pin);
    CHECK(weak("888888") == PinWeakness::initial_pin);
    SecretPin initial = pin("531642");
    CHECK(weak("531642", {&initial, std::nullopt}) == PinWeakness::initial_pin);
    CHECK(weak("000000") == PinWeakness::repeated_digit);
    CHECK(weak("999999") == PinWeakness::repeated_digit);
    CHECK(weak("234567") == PinWeakness::sequence);
    CHECK(weak("654321") == PinWeakness::sequence);
    CHECK(weak("901234") == PinWeakness::sequence);
    CHECK(weak("109876") == PinWeakness::sequence);
    CHECK(weak("789012") == PinWeakness::sequence);
    CHECK_FALSE(weak("135790"));

    PinPolicyContext born{nullptr, Date{1992, 11, 20}};
    CHECK(weak("921120", born) == PinWeakness::birth_date);  // YYMMDD
    CHECK(weak("112092", born) == PinWeakness::birth_date);  // MMDDYY
    CHECK(weak("201192", born) == PinWeakness::birth_date);  // DDMMYY
    CHECK(weak("199211", born) == PinWeakness::birth_date);  // run of YYYYMMDD
    CHECK(weak("921121", born) == std::nullopt);
    CHECK_FALSE(weak("246813", born));
    policy.minLength = 4;
    policy.maxLength = 12;
    CHECK(weak("19921120", born) == PinWeakness::birth_date);
    CHECK(weak("7719921120", born) == PinWeakness::birth_date);  // contains YYYYMMDD
    CHECK(weak("1120", born) == PinWeakness::birth_date);
    CHECK_FALSE(weak("4826", born));

    auto e = checkNewPin(PinPolicy{}, pin("111111"));
    REQUIRE_FALSE(e);
    CHECK(e.error().code == ErrorCode::pin_weak);
    CHECK(e.error().message.find("repeated_digit") != std::string::npos);
    CHECK(checkNewPin(PinPolicy{}, pin("246813")));
}
