#include "apdu/ssse/pin_policy.hpp"

#include <cstdio>

namespace sscard::ssse {

std::string_view weaknessName(PinWeakness w) {
    switch (w) {
        case PinWeakness::length:
            return "length";
        case PinWeakness::initial_pin:
            return "initial_pin";
        case PinWeakness::repeated_digit:
            return "repeated_digit";
        case PinWeakness::sequence:
            return "sequence";
        case PinWeakness::birth_date:
            return "birth_date";
    }
    return "unknown";
}

std::optional<PinWeakness> findWeakness(const PinPolicy& policy, const SecretPin& pin,
                                        const PinPolicyContext& context) {
    std::string_view d = pin.revealDigits();
    if (d.size() < policy.minLength || d.size() > policy.maxLength) return PinWeakness::length;
    for (const auto& initial : policy.initialPins) {
        if (d == initial) return PinWeakness::initial_pin;
    }
    if (context.currentInitialPin != nullptr && context.currentInitialPin->sameAs(pin)) {
        return PinWeakness::initial_pin;
    }
    if (d.find_first_not_of(d[0]) == std::string_view::npos) return PinWeakness::repeated_digit;
    bool up = true;
    bool down = true;
    for (std::size_t i = 1; i < d.size(); ++i) {
        const int prev = d[i - 1] - '0';
        const int cur = d[i] - '0';
        if (cur != (prev + 1) % 10) up = false;
        if (cur != (prev + 9) % 10) down = false;
    }
    if (up || down) return PinWeakness::sequence;
    if (context.birthDate) {
        const Date& b = *context.birthDate;
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04d%02d%02d", b.year % 10000, b.month % 100, b.day % 100);
        const std::string full = buf;  // YYYYMMDD
        const std::string yy = full.substr(2, 2);
        const std::string mm = full.substr(4, 2);
        const std::string dd = full.substr(6, 2);
        const std::string forms[] = {full, yy + mm + dd, mm + dd + yy, dd + mm + yy};
        bool weak = full.find(d) != std::string::npos;
        for (const auto& f : forms) {
            if (d.find(f) != std::string_view::npos) weak = true;
        }
        if (weak) return PinWeakness::birth_date;
    }
    return std::nullopt;
}

Expected<void, Error> checkNewPin(const PinPolicy& policy, const SecretPin& pin,
                                  const PinPolicyContext& context) {
    auto w = findWeakness(policy, pin, context);
    if (!w) return {};
    std::string why;
    switch (*w) {
        case PinWeakness::length:
            why = policy.minLength == policy.maxLength
                      ? "the PIN must have " + std::to_string(policy.minLength) + " digits"
                      : "the PIN must have " + std::to_string(policy.minLength) + " to " +
                            std::to_string(policy.maxLength) + " digits";
            break;
        case PinWeakness::initial_pin:
            why = "the new PIN may not be the initial PIN";
            break;
        case PinWeakness::repeated_digit:
            why = "the PIN may not repeat one digit";
            break;
        case PinWeakness::sequence:
            why = "the PIN may not be an ascending or descending run of digits";
            break;
        case PinWeakness::birth_date:
            why = "the PIN may not contain the holder's birth date";
            break;
    }
    return unexpected(
        makeError(ErrorCode::pin_weak, why + " (" + std::string(weaknessName(*w)) + ")"));
}

}  // namespace sscard::ssse
