// The one place that turns a PC/SC result code into a TransportError. Every call into pcsc-lite in
// this folder reports its failures through mapError, so that the kinds (and what a caller does
// about them) are decided here and nowhere else.
#pragma once

#include <winscard.h>

#include <string>
#include <string_view>

#include "apdu/transport.hpp"

namespace sscard::apdu::pcsc {

// The kind a PC/SC result belongs to. Must not be called with SCARD_S_SUCCESS.
//   SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD          → card_removed
//   SCARD_W_RESET_CARD                                   → card_reset
//   SCARD_E_READER_UNAVAILABLE, SCARD_E_UNKNOWN_READER,
//   SCARD_E_NO_READERS_AVAILABLE                         → reader_gone
//   SCARD_E_NO_SERVICE, SCARD_F_COMM_ERROR,
//   SCARD_E_INVALID_HANDLE                               → no_service
//   SCARD_E_SHARING_VIOLATION                            → sharing_violation
//   SCARD_E_TIMEOUT                                      → timeout
//   card and reader communication failures               → comm_error
//   everything else (SCARD_E_SERVICE_STOPPED: a client/daemon pcsc-lite mismatch, a configuration
//   error; SCARD_E_CANCELLED; parameter and memory errors) → other
//
// SCARD_E_INVALID_HANDLE counts as service loss: the handles here are owned by RAII objects and are
// never used after release, so the only way one becomes invalid is pcscd restarting under it.
TransportErrorKind errorKind(LONG result);

// "SCardTransmit(Virtual PCD 00 00): card removed: Card was removed. (0x80100069)": the operation,
// a plain explanation for the results a caller will meet, pcsc_stringify_error's text and the code.
TransportError mapError(LONG result, std::string_view operation);

// pcsc_stringify_error's text and the hex code: "Card was removed. (0x80100069)".
std::string describeResult(LONG result);

// True for the results after which the context (and every handle from it) is dead: pcscd went away
// or restarted. The caller releases everything and establishes a new context.
bool isServiceLoss(LONG result);

}  // namespace sscard::apdu::pcsc
