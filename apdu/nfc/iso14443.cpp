#include "apdu/nfc/iso14443.hpp"

#include <nfc/nfc.h>

#include <algorithm>

namespace sscard::apdu::nfc {

Bytes historicalBytesFromAts(ByteView ats) {
    if (ats.empty()) return {};
    const std::uint8_t t0 = ats[0];
    std::size_t offset = 1;
    for (std::uint8_t bit : {0x10, 0x20, 0x40}) {
        if ((t0 & bit) != 0) ++offset;
    }
    if (offset > ats.size()) return {};
    return Bytes(ats.begin() + static_cast<std::ptrdiff_t>(offset), ats.end());
}

Bytes pseudoAtr(ByteView historical) {
    const std::size_t k = std::min<std::size_t>(historical.size(), 15);
    // Sized up front: GCC 12 at -O2 reports a false -Warray-bounds on inserting into a vector
    // built from a 4-element initializer list.
    Bytes atr(4 + k);
    atr[0] = 0x3B;
    atr[1] = static_cast<std::uint8_t>(0x80 | k);
    atr[2] = 0x80;
    atr[3] = 0x01;
    std::copy_n(historical.begin(), k, atr.begin() + 4);
    std::uint8_t tck = 0;
    for (std::size_t i = 1; i < atr.size(); ++i) tck ^= atr[i];
    atr.push_back(tck);
    return atr;
}

std::optional<TransportError> refuseCommand(ByteView command) {
    if (command.empty()) {
        return TransportError{TransportErrorKind::refused, "empty command APDU"};
    }
    if (command.size() > kMaxCommandLength) {
        return TransportError{TransportErrorKind::refused, "command APDU of " +
                                                               std::to_string(command.size()) +
                                                               " bytes: libnfc carries at most " +
                                                               std::to_string(kMaxCommandLength)};
    }
    return std::nullopt;
}

TransportErrorKind errorKind(int result) {
    switch (result) {
        case NFC_ERFTRANS:
        case NFC_ETGRELEASED:
            return TransportErrorKind::card_removed;
        case NFC_EIO:
        case NFC_ENOTSUCHDEV:
        case NFC_ECHIP:
        case NFC_ESOFT:
            return TransportErrorKind::reader_gone;
        case NFC_ETIMEOUT:
            return TransportErrorKind::timeout;
        case NFC_EOVFLOW:
            return TransportErrorKind::comm_error;
        default:
            return TransportErrorKind::other;
    }
}

bool needsReopen(int result) {
    const TransportErrorKind kind = errorKind(result);
    return kind == TransportErrorKind::reader_gone || kind == TransportErrorKind::timeout;
}

}  // namespace sscard::apdu::nfc
