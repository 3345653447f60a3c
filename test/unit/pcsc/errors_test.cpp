#include <doctest/doctest.h>

#include <string>

#include "apdu/pcsc/errors.hpp"

using namespace sscard::apdu;
using namespace sscard::apdu::pcsc;

namespace {

struct Row {
    LONG code;
    TransportErrorKind kind;
    const char* hex;
};

const Row kTable[] = {
    {SCARD_W_REMOVED_CARD, TransportErrorKind::card_removed, "0x80100069"},
    {SCARD_E_NO_SMARTCARD, TransportErrorKind::card_removed, "0x8010000C"},
    {SCARD_W_RESET_CARD, TransportErrorKind::card_reset, "0x80100068"},
    {SCARD_E_READER_UNAVAILABLE, TransportErrorKind::reader_gone, "0x80100017"},
    {SCARD_E_UNKNOWN_READER, TransportErrorKind::reader_gone, "0x80100009"},
    {SCARD_E_NO_READERS_AVAILABLE, TransportErrorKind::reader_gone, "0x8010002E"},
    {SCARD_E_NO_SERVICE, TransportErrorKind::no_service, "0x8010001D"},
    {SCARD_F_COMM_ERROR, TransportErrorKind::no_service, "0x80100013"},
    {SCARD_E_INVALID_HANDLE, TransportErrorKind::no_service, "0x80100003"},
    {SCARD_E_SERVICE_STOPPED, TransportErrorKind::other, "0x8010001E"},
    {SCARD_E_SHARING_VIOLATION, TransportErrorKind::sharing_violation, "0x8010000B"},
    {SCARD_E_TIMEOUT, TransportErrorKind::timeout, "0x8010000A"},
    {SCARD_W_UNRESPONSIVE_CARD, TransportErrorKind::comm_error, "0x80100066"},
    {SCARD_W_UNPOWERED_CARD, TransportErrorKind::comm_error, "0x80100067"},
    {SCARD_E_COMM_DATA_LOST, TransportErrorKind::comm_error, "0x8010002F"},
    {SCARD_E_NOT_TRANSACTED, TransportErrorKind::comm_error, "0x80100016"},
    {SCARD_E_PROTO_MISMATCH, TransportErrorKind::comm_error, "0x8010000F"},
    {SCARD_E_CANCELLED, TransportErrorKind::other, "0x80100002"},
    {SCARD_E_INVALID_PARAMETER, TransportErrorKind::other, "0x80100004"},
    {SCARD_E_NO_MEMORY, TransportErrorKind::other, "0x80100006"},
    {SCARD_F_INTERNAL_ERROR, TransportErrorKind::other, "0x80100001"},
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("every listed PC/SC result maps to its kind, naming the operation and the code") {
    for (const Row& row : kTable) {
        CAPTURE(row.hex);
        CHECK(errorKind(row.code) == row.kind);
        const TransportError e = mapError(row.code, "SCardTransmit(Virtual PCD 00 00)");
        CHECK(e.kind == row.kind);
        CHECK(contains(e.message, "SCardTransmit(Virtual PCD 00 00)"));
        CHECK(contains(e.message, row.hex));
        CHECK(contains(e.message, pcsc_stringify_error(row.code)));
    }
}

TEST_CASE("service loss is exactly the no_service class") {
    for (const Row& row : kTable) {
        CAPTURE(row.hex);
        CHECK(isServiceLoss(row.code) == (row.kind == TransportErrorKind::no_service));
    }
}

TEST_CASE("messages explain the results a technician meets") {
    CHECK(contains(mapError(SCARD_E_NO_SERVICE, "SCardEstablishContext").message,
                   "PC/SC service (pcscd) is not running"));
    const std::string stopped = mapError(SCARD_E_SERVICE_STOPPED, "SCardEstablishContext").message;
    CHECK(contains(stopped, "configuration error"));
    CHECK(contains(stopped, "do not match"));
    CHECK(contains(mapError(SCARD_E_NO_READERS_AVAILABLE, "SCardListReaders").message,
                   "no smart card reader"));
    CHECK(contains(mapError(SCARD_W_RESET_CARD, "SCardTransmit").message, "reset"));
}

TEST_CASE("unknown codes still produce a readable message") {
    const LONG odd = static_cast<LONG>(0x80100099);
    const TransportError e = mapError(odd, "SCardControl");
    CHECK(e.kind == TransportErrorKind::other);
    CHECK(contains(e.message, "SCardControl: "));
    CHECK(contains(e.message, "0x80100099"));
    CHECK(describeResult(SCARD_E_TIMEOUT) ==
          std::string(pcsc_stringify_error(SCARD_E_TIMEOUT)) + " (0x8010000A)");
}
