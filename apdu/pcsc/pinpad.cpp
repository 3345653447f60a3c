#include "apdu/pcsc/pinpad.hpp"

#include <PCSC/reader.h>
#include <endian.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace sscard::apdu::pcsc {

namespace {

// bmFormatString: system units bytes (bit 7), PIN position 0 (bits 6..3), left-justified (bit 2
// clear), BCD (bits 1..0 = 01).
constexpr std::uint8_t kFormatBcdBytes = 0x81;
// bEntryValidationCondition: the holder presses the validation key.
constexpr std::uint8_t kValidationKey = 0x02;
// bConfirmPIN: ask for the current PIN (bit 1) and confirm the new one (bit 0).
constexpr std::uint8_t kCurrentAndConfirmNew = 0x03;

// bmPINBlockString: no PIN length field in the command (bits 7..4 = 0), the block size in bytes.
std::uint8_t pinBlockString(const PinEntryFormat& format) {
    return static_cast<std::uint8_t>(format.blockBytes() & 0x0F);
}

// wPINMaxExtraDigit: 0xXXYY, XX the minimum and YY the maximum number of digits.
std::uint16_t minMaxDigits(const PinEntryFormat& format) {
    return htole16(static_cast<std::uint16_t>((format.minDigits << 8) | format.maxDigits));
}

// The structure up to abData (its own size: the structure is packed), then the command.
template <typename Structure>
Bytes withCommand(const Structure& header, const Bytes& command) {
    constexpr std::size_t headerSize = offsetof(Structure, abData);
    Bytes out(headerSize + command.size());
    std::memcpy(out.data(), &header, headerSize);
    std::memcpy(out.data() + headerSize, command.data(), command.size());
    return out;
}

bool serviceOrCardGone(const TransportError& e) {
    return e.kind == TransportErrorKind::card_removed ||
           e.kind == TransportErrorKind::reader_gone || e.kind == TransportErrorKind::no_service;
}

}  // namespace

std::map<std::uint8_t, std::uint32_t> parseFeatureTlv(ByteView tlv) {
    std::map<std::uint8_t, std::uint32_t> out;
    std::size_t pos = 0;
    while (pos + sizeof(PCSC_TLV_STRUCTURE) <= tlv.size()) {
        PCSC_TLV_STRUCTURE entry;
        std::memcpy(&entry, tlv.data() + pos, sizeof entry);
        if (entry.length != sizeof entry.value) break;
        out[entry.tag] = be32toh(entry.value);
        pos += sizeof entry;
    }
    return out;
}

Bytes verifyPinStructure(const PinVerifyRequest& request) {
    const PinEntryFormat& f = request.format;
    PIN_VERIFY_STRUCTURE s;
    std::memset(&s, 0, sizeof s);
    s.bTimerOut = f.timeoutSeconds;
    s.bTimerOut2 = f.timeoutSeconds;
    s.bmFormatString = kFormatBcdBytes;
    s.bmPINBlockString = pinBlockString(f);
    s.bmPINLengthFormat = 0x00;
    s.wPINMaxExtraDigit = minMaxDigits(f);
    s.bEntryValidationCondition = kValidationKey;
    s.bNumberMessage = 0x01;
    s.wLangId = htole16(f.langId);
    s.bMsgIndex = 0x00;
    s.ulDataLength = htole32(static_cast<std::uint32_t>(request.command.size()));
    return withCommand(s, request.command);
}

Bytes modifyPinStructure(const PinModifyRequest& request) {
    const PinEntryFormat& f = request.format;
    PIN_MODIFY_STRUCTURE s;
    std::memset(&s, 0, sizeof s);
    s.bTimerOut = f.timeoutSeconds;
    s.bTimerOut2 = f.timeoutSeconds;
    s.bmFormatString = kFormatBcdBytes;
    s.bmPINBlockString = pinBlockString(f);
    s.bmPINLengthFormat = 0x00;
    s.bInsertionOffsetOld = request.currentPinOffset;
    s.bInsertionOffsetNew = request.newPinOffset;
    s.wPINMaxExtraDigit = minMaxDigits(f);
    s.bConfirmPIN = kCurrentAndConfirmNew;
    s.bEntryValidationCondition = kValidationKey;
    s.bNumberMessage = 0x03;
    s.wLangId = htole16(f.langId);
    s.bMsgIndex1 = 0x00;  // the current PIN
    s.bMsgIndex2 = 0x01;  // the new PIN
    s.bMsgIndex3 = 0x02;  // the new PIN again
    s.ulDataLength = htole32(static_cast<std::uint32_t>(request.command.size()));
    return withCommand(s, request.command);
}

Expected<PinpadFeatures, TransportError> ReaderPinpad::features() {
    auto answer = control_(CM_IOCTL_GET_FEATURE_REQUEST, {});
    if (!answer) {
        if (serviceOrCardGone(answer.error())) return unexpected(std::move(answer).error());
        codes_.emplace();  // readers without part 10 support refuse the request: no PIN pad
        return PinpadFeatures{};
    }
    codes_ = parseFeatureTlv(*answer);
    return PinpadFeatures{codes_->count(FEATURE_VERIFY_PIN_DIRECT) != 0,
                          codes_->count(FEATURE_MODIFY_PIN_DIRECT) != 0};
}

Expected<std::uint32_t, TransportError> ReaderPinpad::controlCode(std::uint8_t feature,
                                                                  const char* name) {
    if (!codes_) {
        if (auto f = features(); !f) return unexpected(std::move(f).error());
    }
    auto it = codes_->find(feature);
    if (it == codes_->end()) {
        return unexpected(TransportError{TransportErrorKind::refused,
                                         std::string("the reader does not offer ") + name});
    }
    return it->second;
}

Expected<Bytes, TransportError> ReaderPinpad::verifyPinDirect(const PinVerifyRequest& request) {
    auto code = controlCode(FEATURE_VERIFY_PIN_DIRECT, "FEATURE_VERIFY_PIN_DIRECT");
    if (!code) return unexpected(std::move(code).error());
    return control_(*code, verifyPinStructure(request));
}

Expected<Bytes, TransportError> ReaderPinpad::modifyPinDirect(const PinModifyRequest& request) {
    auto code = controlCode(FEATURE_MODIFY_PIN_DIRECT, "FEATURE_MODIFY_PIN_DIRECT");
    if (!code) return unexpected(std::move(code).error());
    return control_(*code, modifyPinStructure(request));
}

}  // namespace sscard::apdu::pcsc
