#include "apdu/outcome.hpp"

#include <cstdio>
#include <string>

#include "apdu/status_word.hpp"

namespace sscard::apdu {

Error fromTransport(const TransportError& error, std::string_view step) {
    using K = TransportErrorKind;
    std::string what = std::string(step) + ": " + error.message;
    switch (error.kind) {
        case K::card_removed:
            return makeError(ErrorCode::card_removed, "card removed while " + what);
        case K::reader_gone:
            return makeError(ErrorCode::card_removed, "the reader went away while " + what);
        case K::no_service:
            return makeError(ErrorCode::no_reader, "the reader service was lost while " + what);
        case K::sharing_violation:
            return makeError(ErrorCode::busy, "another program holds the card while " + what);
        case K::card_reset:
        case K::timeout:
        case K::comm_error:
        case K::refused:
        case K::other:
            break;
    }
    return makeError(ErrorCode::card_error, "card communication failed while " + what);
}

Error fromStatusWord(std::uint16_t sw, std::string_view step) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", sw);
    Error e = makeError(ErrorCode::card_error,
                        std::string(step) + ": card answered " + hex + " (" + describe(sw) + ")");
    e.sw = sw;
    return e;
}

}  // namespace sscard::apdu
