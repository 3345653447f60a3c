// libFuzzer target: every parser of card bytes in apdu/, plus the command encode round trip and the
// trace redaction invariant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "apdu/command.hpp"
#include "apdu/response.hpp"
#include "apdu/status_word.hpp"
#include "apdu/tlv.hpp"
#include "apdu/trace.hpp"

using namespace sscard;
using namespace sscard::apdu;

namespace {

[[noreturn]] void fail() {
    __builtin_trap();
}

void checkCommand(ByteView bytes) {
    auto parsed = CommandApdu::parse(bytes);
    if (!parsed) {
        if (parsed.error().empty()) fail();
        return;
    }
    const Bytes encoded = parsed->encode();  // a parsed command is always in range: no throw
    if (encoded.size() != bytes.size() ||
        !std::equal(encoded.begin(), encoded.end(), bytes.begin())) {
        fail();
    }
    auto again = CommandApdu::parse(encoded);
    if (!again || again->data != parsed->data || again->le != parsed->le) fail();
}

void checkTrace(ByteView bytes) {
    const std::string line = formatCommandForTrace(bytes);
    if (!carriesSecret(bytes)) {
        if (line != toHex(bytes, " ")) fail();
        return;
    }
    // Redacted: the header is shown as is, and every byte keeps its place.
    if (line.size() != bytes.size() * 3 - 1) fail();
    if (line.compare(0, 11, toHex(bytes.first(4), " ")) != 0) fail();
    // The last byte of a PIN command is data or Le: never shown.
    if (line.compare(line.size() - 2, 2, "**") != 0) fail();
}

void checkTlv(ByteView bytes) {
    if (auto simple = parseSimpleTlv(bytes)) {
        std::size_t total = 0;
        for (const SimpleTlv& t : *simple) total += t.value.size();
        if (total > bytes.size()) fail();
    }
    if (auto ber = parseBerTlv(bytes)) {
        for (const BerTlv& t : *ber) {
            if (t.value.size() > bytes.size()) fail();
            (void)t.find(0x9F0C);
        }
        (void)findBerTlv(*ber, 0x84);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView bytes(data, size);

    if (auto r = ResponseApdu::parse(bytes)) {
        if (r->encode() != Bytes(bytes.begin(), bytes.end())) fail();
        (void)describe(r->sw());
        (void)describe(r->sw(), SwContext::pin_entry);
        (void)classify(r->sw());
        const int tries = pinTriesLeft(r->sw());
        if (tries < -1 || tries > 15) fail();
    } else if (size >= 2) {
        fail();
    }

    checkCommand(bytes);
    checkTrace(bytes);
    checkTlv(bytes);
    (void)formatResponseForTrace(bytes, bytes);
    return 0;
}
