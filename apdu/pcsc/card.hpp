// A card connected through PC/SC. APDUs go out only through a Transaction (apdu/transport.hpp),
// which holds SCardBeginTransaction/SCardEndTransaction around the sequence.
//
// Each PcscCard owns a PC/SC context of its own (context.hpp explains why): cards in different
// readers exchange APDUs in parallel, and none waits behind the event Monitor's status wait. A
// PcscCard is used by one thread at a time.
#pragma once

#include <winscard.h>

#include <chrono>
#include <memory>
#include <string>

#include "apdu/pcsc/context.hpp"
#include "apdu/pcsc/pinpad.hpp"
#include "apdu/pinpad.hpp"
#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu::pcsc {

struct ConnectOptions {
    // How long SCARD_E_SHARING_VIOLATION (another program holds the card exclusively) is retried,
    // with a short backoff, before connect reports sharing_violation.
    std::chrono::milliseconds sharingRetry{2000};
    // SCARD_SHARE_EXCLUSIVE: no other program may connect to the card while this connection lives
    // (a PSAM's slot); reconnects after a reset keep it.
    bool exclusive = false;
};

class PcscCard final : public CardConnection, public PinpadCapable {
  public:
    // SCARD_SHARE_SHARED (or EXCLUSIVE, see ConnectOptions), T=0 or T=1 (whatever the card and
    // reader agree on). Errors: reader_gone
    // (no such reader), card_removed (no card), sharing_violation, no_service, comm_error (mute
    // card).
    static Expected<std::unique_ptr<PcscCard>, TransportError> connect(
        const std::string& readerName, ConnectOptions options = {});

    // SCardDisconnect(SCARD_LEAVE_CARD), or SCARD_RESET_CARD when a transaction asked to reset the
    // card and ending it failed.
    ~PcscCard() override;

    const std::string& readerName() const override { return reader_; }
    const Bytes& atr() const override { return atr_; }
    // T=0 or T=1 as negotiated; a contactless card behind a PC/SC reader runs T=1.
    Protocol protocol() const override { return protocol_; }
    // From the reader name and ATR (a PC/SC part-3 pseudo-ATR means contactless).
    Interface interface() const override { return interface_; }

    // True when another program reset the card since the last call (which clears it): whatever the
    // caller cached about the card's state (selected application, verified PIN) is gone. A reset
    // seen by begin() is recovered silently (reconnect, then the transaction starts); one seen by a
    // transmit also fails that transmit with card_reset so the caller restarts its sequence.
    bool takeResetFlag() noexcept;

    // PIN pad readers (PC/SC part 10, apdu/pcsc/pinpad.hpp). Untested on real PIN pad readers.
    Expected<PinpadFeatures, TransportError> pinpadFeatures() override;
    Expected<Bytes, TransportError> verifyPinDirect(const PinVerifyRequest& request) override;
    Expected<Bytes, TransportError> modifyPinDirect(const PinModifyRequest& request) override;

  protected:
    Expected<void, TransportError> beginTransaction() override;
    // SCardEndTransaction(SCARD_LEAVE_CARD), or SCARD_RESET_CARD when resetRequested().
    void endTransaction() noexcept override;
    Expected<Bytes, TransportError> transmitRaw(ByteView command) override;

  private:
    bool cardLeft();
    PcscCard(Context context, SCARDHANDLE handle, DWORD activeProtocol, std::string readerName,
             DWORD shareMode);
    std::string operation(const char* call) const;
    // SCardReconnect(share mode, T0|T1, LEAVE_CARD) after SCARD_W_RESET_CARD, then a fresh ATR.
    Expected<void, TransportError> reconnect();
    Expected<void, TransportError> readStatus();
    void setProtocol(DWORD activeProtocol);
    // SCardControl, for the PIN pad.
    Expected<Bytes, TransportError> control(std::uint32_t code, ByteView in);

    Context context_;
    SCARDHANDLE handle_ = 0;
    DWORD activeProtocol_ = 0;
    DWORD shareMode_ = SCARD_SHARE_SHARED;
    std::string reader_;
    Bytes atr_;
    Protocol protocol_ = Protocol::t1;
    Interface interface_ = Interface::contact;
    bool resetSeen_ = false;
    bool resetOnDisconnect_ = false;
    Bytes receive_;  // one receive buffer, big enough for an extended-length response
    ReaderPinpad pinpad_;
};

}  // namespace sscard::apdu::pcsc
