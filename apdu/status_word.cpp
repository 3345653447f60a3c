#include "apdu/status_word.hpp"

#include <cstdio>

namespace sscard::apdu {

namespace {

std::string hex4(std::uint16_t sw) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(sw));
    return buf;
}

struct Known {
    std::uint16_t sw;
    const char* text;
};

// Exact words, ISO 7816-4 plus what the social security card specification gives them.
constexpr Known kKnown[] = {
    {0x9000, "success"},
    {0x6200, "warning: no information given (memory unchanged)"},
    {0x6281, "warning: part of the returned data may be corrupted"},
    {0x6282, "warning: end of file or record reached before Le bytes were read"},
    {0x6283, "warning: selected file or application is deactivated"},
    {0x6284, "warning: file control information not formatted per ISO 7816-4"},
    {0x6300, "warning: verification failed"},
    {0x6400, "execution error: memory unchanged"},
    {0x6401, "execution error: immediate response required by the card"},
    {0x6500, "execution error: memory changed"},
    {0x6581, "memory failure (the card could not write)"},
    {0x6700, "wrong length (Lc or Le)"},
    {0x6800, "function in CLA not supported"},
    {0x6881, "logical channel not supported"},
    {0x6882, "secure messaging not supported"},
    {0x6900, "command not allowed"},
    {0x6981, "command incompatible with the file structure"},
    {0x6982, "security status not satisfied (PIN or external authentication needed first)"},
    {0x6983, "authentication method blocked (PIN blocked)"},
    {0x6984, "reference data not usable (PIN blocked or invalidated, or challenge missing)"},
    {0x6985, "conditions of use not satisfied"},
    {0x6986, "command not allowed (no current EF)"},
    {0x6987, "expected secure messaging data objects missing"},
    {0x6988, "incorrect secure messaging data objects (wrong MAC)"},
    {0x6A80, "incorrect parameters in the data field"},
    {0x6A81, "function not supported (or the card is blocked)"},
    {0x6A82, "file or application not found"},
    {0x6A83, "record not found"},
    {0x6A84, "not enough memory space in the file"},
    {0x6A85, "Lc inconsistent with TLV structure"},
    {0x6A86, "incorrect parameters P1-P2"},
    {0x6A87, "Lc inconsistent with P1-P2"},
    {0x6A88, "referenced data or reference data not found"},
    {0x6B00, "wrong parameters P1-P2 (offset or record outside the file)"},
    {0x6D00, "instruction not supported"},
    {0x6E00, "class not supported"},
    {0x6F00, "no precise diagnosis (card internal error)"},
    {0x9303, "application permanently blocked"},
};

// PC/SC part 10: what a pinpad reader answers instead of the card.
constexpr Known kPinpad[] = {
    {0x6400, "PIN entry timed out on the pinpad"},
    {0x6401, "PIN entry cancelled on the pinpad"},
    {0x6402, "the two new PINs entered on the pinpad differ"},
    {0x6403, "PIN entered on the pinpad has the wrong length"},
};

std::string classText(std::uint16_t sw) {
    const std::uint8_t sw1 = static_cast<std::uint8_t>(sw >> 8);
    const std::string tag = " (" + hex4(sw) + ")";
    switch (sw1) {
        case 0x62:
            return "warning: memory unchanged" + tag;
        case 0x63:
            return "warning: memory changed" + tag;
        case 0x64:
            return "execution error: memory unchanged" + tag;
        case 0x65:
            return "execution error: memory changed" + tag;
        case 0x66:
            return "security-related execution error" + tag;
        case 0x67:
            return "wrong length" + tag;
        case 0x68:
            return "function in CLA not supported" + tag;
        case 0x69:
            return "command not allowed" + tag;
        case 0x6A:
        case 0x6B:
            return "wrong parameters" + tag;
        case 0x6D:
            return "instruction not supported" + tag;
        case 0x6E:
            return "class not supported" + tag;
        case 0x6F:
            return "no precise diagnosis" + tag;
        case 0x90:
            return "success with proprietary qualification" + tag;
        default:
            break;
    }
    if ((sw1 & 0xF0) == 0x60 || (sw1 & 0xF0) == 0x90) {
        return "proprietary status" + tag;
    }
    return "not a valid status word" + tag;
}

}  // namespace

SwClass classify(std::uint16_t sw) {
    const std::uint8_t sw1 = static_cast<std::uint8_t>(sw >> 8);
    if (sw == 0x9000 || sw1 == 0x61) return SwClass::success;
    if (sw1 == 0x62 || sw1 == 0x63) return SwClass::warning;
    if (sw1 >= 0x64 && sw1 <= 0x66) return SwClass::execution_error;
    if (sw1 >= 0x67 && sw1 <= 0x6F) return SwClass::checking_error;
    return SwClass::proprietary;
}

std::string describe(std::uint16_t sw) {
    return describe(sw, SwContext::general);
}

std::string describe(std::uint16_t sw, SwContext context) {
    if (context == SwContext::pin_entry) {
        for (const Known& k : kPinpad) {
            if (k.sw == sw) return k.text;
        }
    }
    for (const Known& k : kKnown) {
        if (k.sw == sw) return k.text;
    }
    const std::uint8_t sw1 = static_cast<std::uint8_t>(sw >> 8);
    const unsigned sw2 = sw & 0xFF;
    if (sw1 == 0x61) {
        return "success, " + std::to_string(sw2 == 0 ? 256 : sw2) +
               " bytes available (GET RESPONSE)";
    }
    if (sw1 == 0x6C) {
        return "wrong Le: " + std::to_string(sw2 == 0 ? 256 : sw2) +
               " bytes available (send again with that Le)";
    }
    if (const int tries = pinTriesLeft(sw); tries >= 0) {
        if (tries == 0) return "wrong PIN, no tries left (PIN now blocked)";
        if (tries == 1) return "wrong PIN, 1 try left";
        return "wrong PIN, " + std::to_string(tries) + " tries left";
    }
    return classText(sw);
}

int pinTriesLeft(std::uint16_t sw) {
    if ((sw & 0xFFF0) == 0x63C0) return sw & 0x0F;
    return -1;
}

}  // namespace sscard::apdu
