// The new-PIN policy (activation, change, reset): which chosen PINs are too weak.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apdu/ssse/card_data.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

enum class PinWeakness { length, initial_pin, repeated_digit, sequence, birth_date };
std::string_view weaknessName(PinWeakness w);

struct PinPolicy {
    std::size_t minLength = 6;  // 4..16; six digits is the common practice
    std::size_t maxLength = 6;
    // Initial PINs cards are issued with: never acceptable as a chosen PIN.
    std::vector<std::string> initialPins = {"123456", "888888"};
};

struct PinPolicyContext {
    const SecretPin* currentInitialPin = nullptr;  // the card's initial PIN, when known
    std::optional<Date> birthDate;                 // the holder's (EF06), when known
};

// Rules, in this order:
//   length: minLength..maxLength digits;
//   initial_pin: equal to one of policy.initialPins or the card's initial PIN;
//   repeated_digit: one digit throughout (000000 … 999999);
//   sequence: each digit one more (or one less) than the previous, wrapping 9→0 / 0→9:
//     123456, 654321, 901234, 109876;
//   birth_date (when known, birth date YYYYMMDD): the PIN contains YYYYMMDD, YYMMDD, MMDDYY or
//     DDMMYY, or the PIN is itself a run of consecutive digits of YYYYMMDD (1992 1120: "199211",
//     "921120", "1120" for a 4-digit PIN).
std::optional<PinWeakness> findWeakness(const PinPolicy& policy, const SecretPin& pin,
                                        const PinPolicyContext& context = {});
// The same as an Error (pin_weak, message naming the rule), or success.
Expected<void, Error> checkNewPin(const PinPolicy& policy, const SecretPin& pin,
                                  const PinPolicyContext& context = {});

}  // namespace sscard::ssse
