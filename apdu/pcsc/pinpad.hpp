// PIN pad readers over PC/SC part 10 (SCardControl), with pcsc-lite's own definitions
// (<PCSC/reader.h>): the reader's feature list (CM_IOCTL_GET_FEATURE_REQUEST), and the
// PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE sent with FEATURE_VERIFY_PIN_DIRECT /
// FEATURE_MODIFY_PIN_DIRECT. Unit-tested against a fake control function; no real PIN pad reader
// was available, so none of this has been tried on hardware.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "apdu/pinpad.hpp"
#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu::pcsc {

// The CM_IOCTL_GET_FEATURE_REQUEST answer: feature tag -> control code. Malformed entries end the
// parse (what came before is kept).
std::map<std::uint8_t, std::uint32_t> parseFeatureTlv(ByteView tlv);

// The bytes SCardControl sends: the packed structure (little-endian fields) followed by the
// command. PIN format: system units bytes, PIN at position 0, left-justified, BCD; the PIN block
// size from the format; entry completes on the validation key.
Bytes verifyPinStructure(const PinVerifyRequest& request);
// Also asks for the current PIN, and the new one twice (bConfirmPIN 03, prompts 00 01 02).
Bytes modifyPinStructure(const PinModifyRequest& request);

// SCardControl(code, in) -> out, on one card handle.
using ControlFunction =
    std::function<Expected<Bytes, TransportError>(std::uint32_t code, ByteView in)>;

// The PIN pad of one reader, reached through its card handle's control function.
class ReaderPinpad {
  public:
    explicit ReaderPinpad(ControlFunction control) : control_(std::move(control)) {}

    // Asks the reader each time. A reader that refuses the request has no part 10 support: no
    // features, not an error.
    Expected<PinpadFeatures, TransportError> features();
    // With the control codes of the last features() (asked first when there was none).
    Expected<Bytes, TransportError> verifyPinDirect(const PinVerifyRequest& request);
    Expected<Bytes, TransportError> modifyPinDirect(const PinModifyRequest& request);

  private:
    Expected<std::uint32_t, TransportError> controlCode(std::uint8_t feature, const char* name);

    ControlFunction control_;
    std::optional<std::map<std::uint8_t, std::uint32_t>> codes_;
};

}  // namespace sscard::apdu::pcsc
