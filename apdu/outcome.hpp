// Turning transport failures and card status words into the contract's outcomes (base/error.hpp),
// for every layer that talks to cards.
#pragma once

#include <cstdint>
#include <string_view>

#include "apdu/transport.hpp"
#include "base/error.hpp"

namespace sscard::apdu {

// `step` names what was being done ("reading EF05") for the message.
Error fromTransport(const TransportError& error, std::string_view step);

// An unexpected status word from the card.
Error fromStatusWord(std::uint16_t sw, std::string_view step);

}  // namespace sscard::apdu
