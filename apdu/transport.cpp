#include "apdu/transport.hpp"

#include <string.h>  // explicit_bzero

#include <cassert>
#include <string>
#include <utility>

namespace sscard::apdu {

namespace {

// A GET RESPONSE chain longer than this is a card (or emulator) gone wrong, not data.
constexpr int kMaxGetResponseRounds = 32;
constexpr std::size_t kMaxChainedData = 65536;

std::size_t leFromSw2(std::uint8_t sw2) {
    return sw2 == 0 ? 256 : sw2;
}

}  // namespace

const char* interfaceName(Interface i) {
    switch (i) {
        case Interface::contact:
            return "contact";
        case Interface::contactless:
            return "contactless";
    }
    return "contact";
}

const char* kindName(TransportErrorKind kind) {
    switch (kind) {
        case TransportErrorKind::card_removed:
            return "card_removed";
        case TransportErrorKind::card_reset:
            return "card_reset";
        case TransportErrorKind::reader_gone:
            return "reader_gone";
        case TransportErrorKind::no_service:
            return "no_service";
        case TransportErrorKind::sharing_violation:
            return "sharing_violation";
        case TransportErrorKind::timeout:
            return "timeout";
        case TransportErrorKind::comm_error:
            return "comm_error";
        case TransportErrorKind::refused:
            return "refused";
        case TransportErrorKind::other:
            return "other";
    }
    return "other";
}

Expected<Transaction, TransportError> CardConnection::begin() {
    auto started = beginTransaction();
    if (!started) return unexpected(std::move(started).error());
    return Transaction(*this);
}

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)) {}

Transaction::~Transaction() {
    if (conn_ == nullptr) return;
    conn_->endTransaction();
    conn_->resetAtEnd_ = false;
}

Expected<ResponseApdu, TransportError> Transaction::exchange(ByteView command) {
    assert(conn_ != nullptr && "use of a moved-from Transaction");
    CardConnection& conn = *conn_;
    // The command is traced before it goes out, so a trace of a hanging or failing exchange
    // still shows what was sent.
    if (conn.tracer_) conn.tracer_("> " + formatCommandForTrace(command));
    auto raw = conn.transmitRaw(command);
    if (!raw) return unexpected(std::move(raw).error());
    ++conn.apduCount_;
    if (conn.tracer_) conn.tracer_("< " + formatResponseForTrace(command, *raw));
    auto response = ResponseApdu::parse(*raw);
    if (!response) {
        return unexpected(TransportError{
            TransportErrorKind::comm_error,
            "card answered " + std::to_string(raw->size()) + " byte(s), not a response APDU"});
    }
    return std::move(*response);
}

Expected<ResponseApdu, TransportError> Transaction::transmitVerbatim(ByteView command) {
    return exchange(command);
}

namespace {

// Wipes a PIN command's encoded bytes and data copy (explicit_bzero is not optimised away; the apdu
// library does not depend on crypto/wipe.hpp).
struct SecretCopies {
    Bytes& encoded;
    Bytes& data;
    bool secret;
    void wipeEncoded() noexcept {
        if (secret && !encoded.empty()) explicit_bzero(encoded.data(), encoded.size());
    }
    ~SecretCopies() {
        wipeEncoded();
        if (secret && !data.empty()) explicit_bzero(data.data(), data.size());
    }
};

}  // namespace

Expected<ResponseApdu, TransportError> Transaction::transmit(const CommandApdu& command,
                                                             TransmitOptions options) {
    const bool t0 = conn_->protocol() == Protocol::t0;
    CommandApdu sent = command;
    // ISO 7816-3 T=0 mapping: a case-4 command goes out as case 3; the data comes with 61xx.
    if (t0 && !sent.data.empty() && sent.le) sent.le.reset();

    // The copies made here of a PIN command (VERIFY, CHANGE PIN, …) are wiped when done.
    Bytes encoded = sent.encode();
    SecretCopies secrets{encoded, sent.data, carriesSecret(encoded)};
    auto result = exchange(encoded);
    if (!result) return result;
    ResponseApdu response = std::move(*result);

    // 6Cxx: wrong Le, the card tells the right one. Resend once. On T=0 a command with data cannot
    // carry Le, so the resend would be the same command again: give the 6Cxx to the caller.
    if (response.sw1 == 0x6C && options.fixLe && !(t0 && !sent.data.empty())) {
        sent.le = leFromSw2(response.sw2);
        secrets.wipeEncoded();
        encoded = sent.encode();
        result = exchange(encoded);
        if (!result) return result;
        response = std::move(*result);
    }

    if (response.sw1 != 0x61 || !options.fetchResponse) return response;

    Bytes data = std::move(response.data);
    int rounds = 0;
    while (response.sw1 == 0x61) {
        if (++rounds > kMaxGetResponseRounds || data.size() > kMaxChainedData) {
            return unexpected(TransportError{
                TransportErrorKind::comm_error,
                "card keeps answering 61xx: gave up after " + std::to_string(rounds - 1) +
                    " GET RESPONSE commands and " + std::to_string(data.size()) + " bytes"});
        }
        auto fetched = exchange(getResponse(leFromSw2(response.sw2)).encode());
        if (!fetched) return fetched;
        if (fetched->sw1 == 0x6C) {  // the card wants a different Le for GET RESPONSE itself
            fetched = exchange(getResponse(leFromSw2(fetched->sw2)).encode());
            if (!fetched) return fetched;
        }
        data.insert(data.end(), fetched->data.begin(), fetched->data.end());
        response.sw1 = fetched->sw1;
        response.sw2 = fetched->sw2;
    }
    response.data = std::move(data);
    return response;
}

}  // namespace sscard::apdu
