// Pure pieces of the libnfc transport (no libnfc calls): the PC/SC part 3 pseudo-ATR built from an
// ISO 14443-4 ATS, the size limit on command APDUs, and the meaning of libnfc's error codes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"

namespace sscard::apdu::nfc {

// The historical bytes of an ATS as libnfc stores it (nfc_iso14443a_info::abtAts: the ATS without
// its length byte TL, i.e. T0 [TA] [TB] [TC] T1..Tk). T0's bits 5..7 say which of TA, TB, TC
// follow. Empty when there is no T0 or the interface bytes run past the end.
Bytes historicalBytesFromAts(ByteView atsWithoutTl);

// PC/SC part 3 pseudo-ATR of an ISO 14443-4 type A card: 3B 8n 80 01 <historical bytes> TCK with
// n = the number of historical bytes (at most 15 are kept) and TCK the XOR of every byte after 3B.
// It is what a PC/SC contactless reader shows for the same card, so the card looks the same through
// both transports.
Bytes pseudoAtr(ByteView historicalBytes);

// Longest command APDU this transport passes to libnfc. Debian's libnfc 1.8.0 copies the command
// into a fixed 264-byte buffer (with the InDataExchange header): 263 bytes or more crash it.
inline constexpr std::size_t kMaxCommandLength = 262;

// TransportError{refused} for a command libnfc cannot carry (empty, or longer than
// kMaxCommandLength); nullopt when it may be sent.
std::optional<TransportError> refuseCommand(ByteView command);

// What a libnfc result code (NFC_EIO, NFC_ETIMEOUT, ...; never NFC_SUCCESS) means here:
//   NFC_ERFTRANS, NFC_ETGRELEASED   → card_removed (the target left the field)
//   NFC_EIO, NFC_ENOTSUCHDEV, NFC_ECHIP, NFC_ESOFT → reader_gone (the device died; re-open it)
//   NFC_ETIMEOUT                    → timeout (the PN532 did not answer in time; re-open it)
//   NFC_EOVFLOW                     → comm_error (answer too long)
//   everything else                 → other
TransportErrorKind errorKind(int nfcResult);

// True when, after this result, the device must be closed and opened again: it is gone, or the
// link to it may be out of step (a late answer is read as the answer to the next command).
bool needsReopen(int nfcResult);

}  // namespace sscard::apdu::nfc
