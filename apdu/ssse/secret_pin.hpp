// A PIN held in memory: the digits live only here and in buffers that are wiped after use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "crypto/mac.hpp"

namespace sscard::ssse {

// 4..16 decimal digits. Move-only, wiped on destruction; deliberately not printable (no operator<<,
// no conversion to string): the digits are reachable only through revealDigits().
class SecretPin {
  public:
    // Error code usage: not 4..16 decimal digits.
    static Expected<SecretPin, Error> fromDigits(std::string_view digits);
    // The same, and wipes the caller's string (also on failure): for PINs parsed out of requests.
    static Expected<SecretPin, Error> take(std::string& digits);

    SecretPin(SecretPin&& other) noexcept;
    SecretPin& operator=(SecretPin&& other) noexcept;
    SecretPin(const SecretPin&) = delete;
    SecretPin& operator=(const SecretPin&) = delete;
    ~SecretPin();

    std::size_t length() const { return digits_.size(); }
    // The digits, for the code that has to put them into a command. Do not copy them around.
    std::string_view revealDigits() const { return digits_; }
    // BCD, an odd length padded with F ("12345" -> 12 34 5F).
    crypto::SecretBytes bcd() const;
    bool sameAs(const SecretPin& other) const;

  private:
    SecretPin() = default;
    std::string digits_;
};

}  // namespace sscard::ssse
