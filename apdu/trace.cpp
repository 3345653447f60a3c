#include "apdu/trace.hpp"

#include <string.h>  // explicit_bzero

#include "apdu/command.hpp"

namespace sscard::apdu {

namespace {

bool isPinInstruction(std::uint8_t ins) {
    switch (ins) {
        case 0x20:  // VERIFY
        case 0x24:  // CHANGE REFERENCE DATA; on this card also the issuer's PIN reset / unblock
        case 0x2C:  // RESET RETRY COUNTER
        case 0x5E:  // CHANGE PIN (proprietary, CLA 80)
            return true;
        default:
            return false;
    }
}

void appendMasked(std::string& out, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) out.append(" **");
}

}  // namespace

// A PIN command of 6 bytes or more has something after its Lc/Le byte: either a data field, or a
// shape we cannot be sure about (an extended Le, or bytes that do not parse). Treat all of those as
// secret; 4- and 5-byte commands (case 1, case 2S) cannot carry a PIN.
// The PSAM's 80 FA (encrypt / MAC) carries the plaintext PIN block of an issuer PIN reset.
bool carriesSecret(ByteView command) {
    if (command.size() < 6) return false;
    return isPinInstruction(command[1]) || (command[0] == 0x80 && command[1] == 0xFA);
}

std::string formatCommandForTrace(ByteView command) {
    if (!carriesSecret(command)) return toHex(command, " ");

    // Header as is. The only other bytes shown are the Lc field of a well-formed command: a
    // data field is masked byte by byte, and so is Le, because with a wrong Lc the last PIN byte
    // would otherwise parse as Le and be shown.
    std::string out = toHex(command.first(4), " ");
    std::size_t shown = 4;
    if (auto parsed = CommandApdu::parse(command); parsed && !parsed->data.empty()) {
        explicit_bzero(parsed->data.data(), parsed->data.size());  // a copy of the PIN
        const std::size_t lcBytes = parsed->extended ? 3 : 1;
        out.push_back(' ');
        out.append(toHex(command.subspan(4, lcBytes), " "));
        shown += lcBytes;
    }
    appendMasked(out, command.size() - shown);
    return out;
}

bool answerCarriesHolderData(ByteView command) {
    if (command.size() < 2) return false;
    switch (command[1]) {
        case 0xB0:  // READ BINARY
        case 0xB1:
        case 0xB2:  // READ RECORD: EF05 (card number), EF06 (SSN, name, ...)
        case 0xB3:
        case 0xC0:  // GET RESPONSE: the rest of any of these under T=0
        case 0xCA:  // GET DATA
        case 0xCB:
            return true;
        default:
            return false;
    }
}

std::string formatResponseForTrace(ByteView command, ByteView response) {
    if (response.size() <= 2 || !answerCarriesHolderData(command)) return toHex(response, " ");
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict on "literal" + string&&.
    std::string text = "[";
    text += std::to_string(response.size() - 2);
    text += " bytes masked] ";
    text += toHex(response.subspan(response.size() - 2), " ");
    return text;
}

}  // namespace sscard::apdu
