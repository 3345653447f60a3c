#include "apdu/ssse/pin_commands.hpp"

#include <string>

#include "apdu/outcome.hpp"
#include "apdu/ssse/exchange.hpp"
#include "apdu/ssse/pin_outcome.hpp"

namespace sscard::ssse {

Expected<void, Error> verifyPin(apdu::Transaction& tx, const SecretPin& pin) {
    auto bcd = pin.bcd();
    SecretCommand cmd{{.cla = 0x00,
                       .ins = 0x20,
                       .p1 = 0x00,
                       .p2 = 0x00,
                       .data = Bytes(bcd.data(), bcd.data() + bcd.size()),
                       .le = std::nullopt}};
    auto r = send(tx, cmd.apdu, "VERIFY");
    if (!r) return unexpected(std::move(r).error());
    return pinOutcome(r->sw(), "VERIFY");
}

Expected<std::optional<int>, Error> pinTriesLeft(apdu::Transaction& tx) {
    apdu::CommandApdu cmd{
        .cla = 0x00, .ins = 0x20, .p1 = 0x00, .p2 = 0x00, .data = {}, .le = std::nullopt};
    auto r = send(tx, cmd, "VERIFY (retry counter)");
    if (!r) return unexpected(std::move(r).error());
    const std::uint16_t sw = r->sw();
    if ((sw & 0xFFF0) == 0x63C0) return std::optional<int>(sw & 0x0F);
    if (sw == 0x6983) return std::optional<int>(0);
    if (sw == 0x9000) return std::optional<int>{};
    auto outcome = pinOutcome(sw, "VERIFY (retry counter)");
    return unexpected(outcome.error());
}

Expected<void, Error> changePin(apdu::Transaction& tx, const SecretPin& oldPin,
                                const SecretPin& newPin) {
    auto oldBcd = oldPin.bcd();
    auto newBcd = newPin.bcd();
    SecretCommand cmd{
        {.cla = 0x80, .ins = 0x5E, .p1 = 0x01, .p2 = 0x00, .data = {}, .le = std::nullopt}};
    cmd.apdu.data.reserve(oldBcd.size() + 1 + newBcd.size());
    cmd.apdu.data.insert(cmd.apdu.data.end(), oldBcd.data(), oldBcd.data() + oldBcd.size());
    cmd.apdu.data.push_back(0xFF);
    cmd.apdu.data.insert(cmd.apdu.data.end(), newBcd.data(), newBcd.data() + newBcd.size());
    auto r = send(tx, cmd.apdu, "CHANGE PIN");
    if (!r) return unexpected(withPinState(std::move(r).error(), kPinUnknown));
    if (r->sw() == 0x6A80) {
        Error e =
            makeError(ErrorCode::card_error, "CHANGE PIN: the card refused the PIN format (6A80)");
        e.sw = 0x6A80;
        return unexpected(withPinState(std::move(e), kPinUnchanged));
    }
    return unchangedOnError(pinOutcome(r->sw(), "CHANGE PIN"));
}

Expected<std::optional<apdu::PinpadFeatures>, Error> pinpadFeatures(
    apdu::CardConnection& connection) {
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&connection);
    if (pad == nullptr) return std::optional<apdu::PinpadFeatures>{};
    auto features = pad->pinpadFeatures();
    if (!features) {
        return unexpected(
            apdu::fromTransport(features.error(), "asking the reader for its features"));
    }
    if (!features->verifyPinDirect) return std::optional<apdu::PinpadFeatures>{};
    return std::optional<apdu::PinpadFeatures>(*features);
}

namespace {

// The PIN blocks the reader fills, pre-set to FF.
Bytes withPinBlocks(Bytes header, std::size_t blocks, std::size_t blockBytes) {
    for (std::size_t i = 0; i < blocks; ++i) {
        if (i > 0) header.push_back(0xFF);  // CHANGE PIN's separator between old and new
        header.insert(header.end(), blockBytes, 0xFF);
    }
    return header;
}

apdu::PinVerifyRequest verifyRequest(const apdu::PinEntryFormat& format) {
    const std::size_t n = format.blockBytes();
    return {format, withPinBlocks({0x00, 0x20, 0x00, 0x00, static_cast<std::uint8_t>(n)}, 1, n)};
}

apdu::PinModifyRequest modifyRequest(const apdu::PinEntryFormat& format) {
    const std::size_t n = format.blockBytes();
    return {format,
            withPinBlocks({0x80, 0x5E, 0x01, 0x00, static_cast<std::uint8_t>(2 * n + 1)}, 2, n), 0,
            static_cast<std::uint8_t>(n + 1)};
}

// What the PIN pad answered, as the outcome of the command. changesPin: MODIFY, whose failures say
// where the PIN stands (Error::pin_state); VERIFY's do not.
Expected<void, Error> pinpadOutcome(Expected<Bytes, apdu::TransportError> answer,
                                    std::string_view step, bool changesPin) {
    if (!answer) {
        Error e = apdu::fromTransport(answer.error(), step);
        // A MODIFY may have been carried out before the reader lost the card.
        return unexpected(changesPin ? withPinState(std::move(e), kPinUnknown) : std::move(e));
    }
    if (answer->size() != 2) {
        return unexpected(makeError(ErrorCode::card_error, std::string(step) +
                                                               ": the pinpad answered " +
                                                               std::to_string(answer->size()) +
                                                               " bytes instead of SW1 SW2"));
    }
    auto outcome = pinOutcome(static_cast<std::uint16_t>(((*answer)[0] << 8) | (*answer)[1]), step);
    return changesPin ? unchangedOnError(std::move(outcome)) : outcome;
}

Error noPinpadFor(std::string_view step) {
    return makeError(ErrorCode::not_allowed, "this reader has no pinpad for " + std::string(step));
}

}  // namespace

Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const apdu::PinpadFeatures& features,
                                        const apdu::PinEntryFormat& format) {
    constexpr std::string_view step = "VERIFY on the pinpad";
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&tx.connection());
    if (pad == nullptr || !features.verifyPinDirect) return unexpected(noPinpadFor(step));
    return pinpadOutcome(pad->verifyPinDirect(verifyRequest(format)), step, false);
}

Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const apdu::PinpadFeatures& features,
                                        const apdu::PinEntryFormat& format) {
    constexpr std::string_view step = "CHANGE PIN on the pinpad";
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&tx.connection());
    if (pad == nullptr || !features.modifyPinDirect) return unexpected(noPinpadFor(step));
    return pinpadOutcome(pad->modifyPinDirect(modifyRequest(format)), step, true);
}

}  // namespace sscard::ssse
