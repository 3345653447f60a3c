// Turning transport failures and card status words into the contract's outcomes.
#pragma once

#include <cstdint>
#include <string_view>

#include "apdu/transport.hpp"
#include "base/error.hpp"

namespace sscard::ssse {

// `step` names what was being done ("reading EF05") for the message.
Error fromTransport(const apdu::TransportError& error, std::string_view step);

// An unexpected status word from the card.
Error fromStatusWord(std::uint16_t sw, std::string_view step);

}  // namespace sscard::ssse
