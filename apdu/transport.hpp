// A connected card, whatever carries it (PC/SC, libnfc), and the transaction through which alone
// APDUs can be sent. Transports report failures as TransportError values; nothing here throws for
// card behaviour.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "apdu/command.hpp"
#include "apdu/response.hpp"
#include "apdu/trace.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

enum class Interface { contact, contactless };
enum class Protocol { t0, t1, contactless };

const char* interfaceName(Interface i);

enum class TransportErrorKind {
    card_removed,       // the card left; the connection is dead
    card_reset,         // another program reset the card: card state (selected file, PIN) is lost
    reader_gone,        // the reader was unplugged
    no_service,         // the PC/SC service (or NFC device) went away
    sharing_violation,  // another program holds the card exclusively
    timeout,
    comm_error,  // the exchange failed or the answer was unusable
    refused,     // the transport cannot carry this command (e.g. too long for libnfc)
    other,
};

struct TransportError {
    TransportErrorKind kind = TransportErrorKind::other;
    std::string message;
};

const char* kindName(TransportErrorKind kind);

struct TransmitOptions {
    // On 61xx, fetch the data with GET RESPONSE and append it. Off when the caller only needs to
    // know the command succeeded (saves an APDU on T=0 cards).
    bool fetchResponse = true;
    // On 6Cxx, send the command again with Le = xx.
    bool fixLe = true;
};

class Transaction;

class CardConnection {
  public:
    virtual ~CardConnection() = default;
    CardConnection() = default;
    CardConnection(const CardConnection&) = delete;
    CardConnection& operator=(const CardConnection&) = delete;

    virtual const std::string& readerName() const = 0;
    virtual const Bytes& atr() const = 0;
    virtual Protocol protocol() const = 0;
    virtual Interface interface() const = 0;

    // Holds the card for a multi-APDU sequence; the returned object ends it when destroyed.
    Expected<Transaction, TransportError> begin();

    // The card must lose what the current sequence built up (a verified PIN, an issuer
    // authentication) when its transaction ends, so that no other program can ride on it: PC/SC
    // ends the transaction with SCARD_RESET_CARD. Transports no other program shares ignore it.
    // Applies to the current (or next) transaction only.
    void resetWhenTransactionEnds() noexcept { resetAtEnd_ = true; }

    void setTracer(Tracer tracer) { tracer_ = std::move(tracer); }
    // APDUs actually exchanged with the card (GET RESPONSE and Le retries included).
    std::uint64_t apduCount() const { return apduCount_; }

  protected:
    virtual Expected<void, TransportError> beginTransaction() = 0;
    // resetRequested() says whether it must reset the card (resetWhenTransactionEnds()).
    virtual void endTransaction() noexcept = 0;
    bool resetRequested() const noexcept { return resetAtEnd_; }
    // One raw exchange: command bytes out, response bytes (data ‖ SW1 SW2) back.
    virtual Expected<Bytes, TransportError> transmitRaw(ByteView command) = 0;

  private:
    friend class Transaction;
    Tracer tracer_;
    std::uint64_t apduCount_ = 0;
    bool resetAtEnd_ = false;
};

// The only way to talk to a card. Move-only; ends the PC/SC transaction when destroyed.
class Transaction {
  public:
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    // Sends a command, with the T=0 fix-ups: a case-4 command on T=0 goes out without Le, 61xx is
    // answered with GET RESPONSE, 6Cxx with the same command and the right Le (options permitting).
    // Every raw exchange is traced (redacted) and counted.
    Expected<ResponseApdu, TransportError> transmit(const CommandApdu& command,
                                                    TransmitOptions options = {});

    // One exchange exactly as given, no fix-ups (diag apdu); still traced and counted.
    Expected<ResponseApdu, TransportError> transmitVerbatim(ByteView command);

    CardConnection& connection() { return *conn_; }

  private:
    friend class CardConnection;
    explicit Transaction(CardConnection& conn) : conn_(&conn) {}
    Expected<ResponseApdu, TransportError> exchange(ByteView command);
    CardConnection* conn_;
};

}  // namespace sscard::apdu
