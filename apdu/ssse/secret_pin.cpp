#include "apdu/ssse/secret_pin.hpp"

#include <cstdint>

#include "crypto/wipe.hpp"

namespace sscard::ssse {

namespace {

bool allDigits(std::string_view s) {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

Expected<SecretPin, Error> SecretPin::take(std::string& digits) {
    SecretPin pin;
    pin.digits_ = digits;  // a copy of the right capacity; the source is wiped right after
    crypto::wipe(digits);
    if (pin.digits_.size() < 4 || pin.digits_.size() > 16 || !allDigits(pin.digits_)) {
        return unexpected(makeError(ErrorCode::usage, "a PIN is 4 to 16 decimal digits"));
    }
    return pin;
}

Expected<SecretPin, Error> SecretPin::fromDigits(std::string_view digits) {
    std::string copy(digits);
    return take(copy);
}

SecretPin::SecretPin(SecretPin&& other) noexcept : digits_(std::move(other.digits_)) {
    crypto::wipe(other.digits_);
}

SecretPin& SecretPin::operator=(SecretPin&& other) noexcept {
    if (this != &other) {
        crypto::wipe(digits_);
        digits_ = std::move(other.digits_);
        crypto::wipe(other.digits_);
    }
    return *this;
}

SecretPin::~SecretPin() {
    crypto::wipe(digits_);
}

crypto::SecretBytes SecretPin::bcd() const {
    Bytes out;
    out.reserve(8);
    for (std::size_t i = 0; i < digits_.size(); i += 2) {
        const auto hi = static_cast<std::uint8_t>(digits_[i] - '0');
        const auto lo =
            i + 1 < digits_.size() ? static_cast<std::uint8_t>(digits_[i + 1] - '0') : 0x0F;
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return crypto::SecretBytes(std::move(out));
}

bool SecretPin::sameAs(const SecretPin& other) const {
    return digits_ == other.digits_;
}

}  // namespace sscard::ssse
