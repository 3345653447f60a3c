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
        return unexpected(withPinState(
            makeError(ErrorCode::card_error, "CHANGE PIN: the card refused the PIN format (6A80)"),
            kPinUnchanged));
    }
    return unchangedOnError(pinOutcome(r->sw(), "CHANGE PIN"));
}

std::map<std::uint8_t, std::uint32_t> parseFeatures(ByteView tlv) {
    std::map<std::uint8_t, std::uint32_t> out;
    std::size_t pos = 0;
    while (pos + 2 <= tlv.size()) {
        const std::uint8_t tag = tlv[pos];
        const std::uint8_t len = tlv[pos + 1];
        if (len != 4 || pos + 2 + 4 > tlv.size()) break;
        std::uint32_t code = 0;
        for (std::size_t i = 0; i < 4; ++i) code = (code << 8) | tlv[pos + 2 + i];
        out[tag] = code;
        pos += 6;
    }
    return out;
}

namespace {

void putLe16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void putLe32(Bytes& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}

std::size_t pinBlockBytes(const PinpadParams& p) {
    return (p.maxDigits + 1) / 2;
}

// bmFormatString: system units bytes (bit 7), PIN position 0 (bits 6..3), left justified (bit 2),
// BCD (bits 1..0 = 01).
constexpr std::uint8_t kFormatBcdBytes = 0x81;

}  // namespace

Bytes buildVerifyPinStructure(const PinpadParams& params) {
    const std::size_t n = pinBlockBytes(params);
    Bytes apdu = {0x00, 0x20, 0x00, 0x00, static_cast<std::uint8_t>(n)};
    apdu.insert(apdu.end(), n, 0xFF);
    Bytes s;
    s.push_back(params.timeoutSeconds);                // bTimerOut
    s.push_back(params.timeoutSeconds);                // bTimerOut2
    s.push_back(kFormatBcdBytes);                      // bmFormatString
    s.push_back(static_cast<std::uint8_t>(n & 0x0F));  // bmPINBlockString: no length field, n bytes
    s.push_back(0x00);                                 // bmPINLengthFormat
    putLe16(s, static_cast<std::uint16_t>((params.minDigits << 8) | params.maxDigits));
    s.push_back(0x02);  // bEntryValidationCondition: validation key
    s.push_back(0x01);  // bNumberMessage
    putLe16(s, params.langId);
    s.push_back(0x00);                      // bMsgIndex
    s.insert(s.end(), {0x00, 0x00, 0x00});  // bTeoPrologue
    putLe32(s, static_cast<std::uint32_t>(apdu.size()));
    s.insert(s.end(), apdu.begin(), apdu.end());
    return s;
}

Bytes buildModifyPinStructure(const PinpadParams& params) {
    const std::size_t n = pinBlockBytes(params);
    Bytes apdu = {0x80, 0x5E, 0x01, 0x00, static_cast<std::uint8_t>(2 * n + 1)};
    apdu.insert(apdu.end(), n, 0xFF);
    apdu.push_back(0xFF);  // the separator
    apdu.insert(apdu.end(), n, 0xFF);
    Bytes s;
    s.push_back(params.timeoutSeconds);
    s.push_back(params.timeoutSeconds);
    s.push_back(kFormatBcdBytes);
    s.push_back(static_cast<std::uint8_t>(n & 0x0F));
    s.push_back(0x00);                              // bmPINLengthFormat
    s.push_back(0x00);                              // bInsertionOffsetOld (bytes)
    s.push_back(static_cast<std::uint8_t>(n + 1));  // bInsertionOffsetNew
    putLe16(s, static_cast<std::uint16_t>((params.minDigits << 8) | params.maxDigits));
    s.push_back(0x03);  // bConfirmPIN: confirm the new PIN, ask for the current one
    s.push_back(0x02);  // bEntryValidationCondition
    s.push_back(0x03);  // bNumberMessage
    putLe16(s, params.langId);
    s.push_back(0x00);  // bMsgIndex1
    s.push_back(0x01);  // bMsgIndex2
    s.push_back(0x02);  // bMsgIndex3
    s.insert(s.end(), {0x00, 0x00, 0x00});
    putLe32(s, static_cast<std::uint32_t>(apdu.size()));
    s.insert(s.end(), apdu.begin(), apdu.end());
    return s;
}

Expected<std::optional<PinpadFeatures>, Error> pinpadFeatures(apdu::CardConnection& connection) {
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&connection);
    if (pad == nullptr) return std::optional<PinpadFeatures>{};
    auto r = pad->control(apdu::kIoctlGetFeatureRequest, {});
    if (!r) {
        // Readers without part 10 support refuse the control code: no pinpad.
        if (r.error().kind == apdu::TransportErrorKind::card_removed ||
            r.error().kind == apdu::TransportErrorKind::reader_gone ||
            r.error().kind == apdu::TransportErrorKind::no_service) {
            return unexpected(apdu::fromTransport(r.error(), "asking the reader for its features"));
        }
        return std::optional<PinpadFeatures>{};
    }
    auto features = parseFeatures(*r);
    auto verify = features.find(kFeatureVerifyPinDirect);
    if (verify == features.end()) return std::optional<PinpadFeatures>{};
    PinpadFeatures f;
    f.verifyPinDirect = verify->second;
    if (auto m = features.find(kFeatureModifyPinDirect); m != features.end()) {
        f.modifyPinDirect = m->second;
    }
    return std::optional<PinpadFeatures>(f);
}

namespace {

// changesPin: MODIFY, whose failures say where the PIN stands (Error::pin_state); VERIFY's do not.
Expected<void, Error> pinpadCommand(apdu::Transaction& tx, std::uint32_t code, const Bytes& input,
                                    std::string_view step, bool changesPin) {
    auto* pad = dynamic_cast<apdu::PinpadCapable*>(&tx.connection());
    if (pad == nullptr || code == 0) {
        return unexpected(makeError(ErrorCode::not_allowed,
                                    "this reader has no pinpad for " + std::string(step)));
    }
    auto r = pad->control(code, input);
    if (!r) {
        Error e = apdu::fromTransport(r.error(), step);
        // A MODIFY may have been carried out before the reader lost the card.
        return unexpected(changesPin ? withPinState(std::move(e), kPinUnknown) : std::move(e));
    }
    if (r->size() != 2) {
        return unexpected(makeError(ErrorCode::card_error,
                                    std::string(step) + ": the pinpad answered " +
                                        std::to_string(r->size()) + " bytes instead of SW1 SW2"));
    }
    auto outcome = pinOutcome(static_cast<std::uint16_t>(((*r)[0] << 8) | (*r)[1]), step);
    return changesPin ? unchangedOnError(std::move(outcome)) : outcome;
}

}  // namespace

Expected<void, Error> verifyPinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params) {
    return pinpadCommand(tx, features.verifyPinDirect, buildVerifyPinStructure(params),
                         "VERIFY on the pinpad", false);
}

Expected<void, Error> changePinOnPinpad(apdu::Transaction& tx, const PinpadFeatures& features,
                                        const PinpadParams& params) {
    return pinpadCommand(tx, features.modifyPinDirect, buildModifyPinStructure(params),
                         "CHANGE PIN on the pinpad", true);
}

}  // namespace sscard::ssse
