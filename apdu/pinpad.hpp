// Readers with a PIN pad (PC/SC part 10): the optional capability of a card connection to pass a
// control code to the reader (SCardControl). A connection that offers it derives from
// PinpadCapable as well as CardConnection; callers find it with dynamic_cast.
#pragma once

#include <cstdint>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

// SCARD_CTL_CODE(3400) on pcsc-lite: 0x42000000 + 3400.
inline constexpr std::uint32_t kIoctlGetFeatureRequest = 0x42000000u + 3400u;

class PinpadCapable {
  public:
    virtual ~PinpadCapable() = default;
    // SCardControl(code, in) -> out. Call it inside a Transaction on the same card.
    virtual Expected<Bytes, TransportError> control(std::uint32_t code, ByteView in) = 0;
};

}  // namespace sscard::apdu
