#include "apdu/pcsc/errors.hpp"

#include <cstdio>

namespace sscard::apdu::pcsc {

namespace {

// A few words a technician understands without the PC/SC specification at hand; empty when
// pcsc_stringify_error's text says enough.
std::string_view explanation(LONG result) {
    switch (result) {
        case SCARD_W_REMOVED_CARD:
            return "card removed";
        case SCARD_E_NO_SMARTCARD:
            return "no card in the reader";
        case SCARD_W_RESET_CARD:
            return "card was reset by another program; card state is lost";
        case SCARD_E_READER_UNAVAILABLE:
            return "reader unplugged or unavailable";
        case SCARD_E_UNKNOWN_READER:
            return "no such reader";
        case SCARD_E_NO_READERS_AVAILABLE:
            return "no smart card reader is available";
        case SCARD_E_NO_SERVICE:
            return "PC/SC service (pcscd) is not running";
        case SCARD_F_COMM_ERROR:
            return "lost the connection to the PC/SC service (pcscd)";
        case SCARD_E_INVALID_HANDLE:
            return "handle no longer valid (the PC/SC service restarted?)";
        case SCARD_E_SERVICE_STOPPED:
            return "configuration error: the pcsc-lite client library and the running pcscd do not "
                   "match (two pcsc-lite installations?)";
        case SCARD_E_SHARING_VIOLATION:
            return "another program holds the card exclusively";
        case SCARD_E_TIMEOUT:
            return "timed out";
        case SCARD_E_CANCELLED:
            return "cancelled";
        default:
            return {};
    }
}

}  // namespace

TransportErrorKind errorKind(LONG result) {
    switch (result) {
        case SCARD_W_REMOVED_CARD:
        case SCARD_E_NO_SMARTCARD:
            return TransportErrorKind::card_removed;
        case SCARD_W_RESET_CARD:
            return TransportErrorKind::card_reset;
        case SCARD_E_READER_UNAVAILABLE:
        case SCARD_E_UNKNOWN_READER:
        case SCARD_E_NO_READERS_AVAILABLE:
            return TransportErrorKind::reader_gone;
        case SCARD_E_NO_SERVICE:
        case SCARD_F_COMM_ERROR:
        case SCARD_E_INVALID_HANDLE:
            return TransportErrorKind::no_service;
        case SCARD_E_SHARING_VIOLATION:
            return TransportErrorKind::sharing_violation;
        case SCARD_E_TIMEOUT:
            return TransportErrorKind::timeout;
        case SCARD_W_UNRESPONSIVE_CARD:
        case SCARD_W_UNPOWERED_CARD:
        case SCARD_W_UNSUPPORTED_CARD:
        case SCARD_E_COMM_DATA_LOST:
        case SCARD_E_NOT_READY:
        case SCARD_E_PROTO_MISMATCH:
        case SCARD_E_NOT_TRANSACTED:
        case SCARD_E_CARD_UNSUPPORTED:
        case SCARD_E_INVALID_ATR:
        case SCARD_F_WAITED_TOO_LONG:
        case SCARD_E_INSUFFICIENT_BUFFER:
        case SCARD_E_PCI_TOO_SMALL:
            return TransportErrorKind::comm_error;
        default:
            // SCARD_E_SERVICE_STOPPED (configuration), SCARD_E_CANCELLED, parameter, memory and
            // internal errors: nothing a retry or a new card fixes.
            return TransportErrorKind::other;
    }
}

bool isServiceLoss(LONG result) {
    return errorKind(result) == TransportErrorKind::no_service;
}

std::string describeResult(LONG result) {
    char code[16];
    std::snprintf(code, sizeof code, "0x%08lX", static_cast<unsigned long>(result) & 0xFFFFFFFFUL);
    return std::string(pcsc_stringify_error(result)) + " (" + code + ")";
}

TransportError mapError(LONG result, std::string_view operation) {
    std::string message(operation);
    message += ": ";
    if (std::string_view why = explanation(result); !why.empty()) {
        message += why;
        message += ": ";
    }
    message += describeResult(result);
    return TransportError{errorKind(result), std::move(message)};
}

}  // namespace sscard::apdu::pcsc
