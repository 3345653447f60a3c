#include "apdu/pcsc/card.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include "apdu/pcsc/errors.hpp"
#include "apdu/reader.hpp"

namespace sscard::apdu::pcsc {

namespace {

// 65536 data bytes (extended Le) plus SW1 SW2.
constexpr std::size_t kReceiveBufferSize = 65538;
// SCardBeginTransaction answering SCARD_W_RESET_CARD again right after a reconnect means some
// program keeps resetting the card: give up after this many rounds.
constexpr int kMaxResetRounds = 3;

constexpr DWORD kProtocols = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;

}  // namespace

Expected<std::unique_ptr<PcscCard>, TransportError> PcscCard::connect(const std::string& readerName,
                                                                      ConnectOptions options) {
    auto context = Context::establish();
    if (!context) return unexpected(std::move(context).error());

    const auto deadline = std::chrono::steady_clock::now() + options.sharingRetry;
    auto pause = std::chrono::milliseconds(50);
    SCARDHANDLE handle = 0;
    DWORD active = 0;
    const DWORD share = options.exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
    for (;;) {
        const LONG rv = SCardConnect(context->handle(), readerName.c_str(), share, kProtocols,
                                     &handle, &active);
        if (rv == SCARD_S_SUCCESS) break;
        const auto now = std::chrono::steady_clock::now();
        if (rv != SCARD_E_SHARING_VIOLATION || now >= deadline) {
            return unexpected(mapError(rv, "SCardConnect(" + readerName + ")"));
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
        pause = std::min(pause * 2, std::chrono::milliseconds(400));
    }

    std::unique_ptr<PcscCard> card(
        new PcscCard(std::move(*context), handle, active, readerName, share));
    if (auto status = card->readStatus(); !status) return unexpected(std::move(status).error());
    return card;
}

PcscCard::PcscCard(Context context, SCARDHANDLE handle, DWORD activeProtocol,
                   std::string readerName, DWORD shareMode)
    : context_(std::move(context)),
      handle_(handle),
      shareMode_(shareMode),
      reader_(std::move(readerName)),
      receive_(kReceiveBufferSize),
      pinpad_([this](std::uint32_t code, ByteView in) { return control(code, in); }) {
    setProtocol(activeProtocol);
}

PcscCard::~PcscCard() {
    // Fails harmlessly when the card or the service is already gone; the context goes after it.
    (void)SCardDisconnect(handle_, resetOnDisconnect_ ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
}

bool PcscCard::takeResetFlag() noexcept {
    return std::exchange(resetSeen_, false);
}

std::string PcscCard::operation(const char* call) const {
    return std::string(call) + "(" + reader_ + ")";
}

void PcscCard::setProtocol(DWORD activeProtocol) {
    activeProtocol_ = activeProtocol;
    protocol_ = activeProtocol == SCARD_PROTOCOL_T0 ? Protocol::t0 : Protocol::t1;
}

Expected<void, TransportError> PcscCard::readStatus() {
    DWORD readerLength = 0;
    DWORD state = 0;
    DWORD active = 0;
    unsigned char atr[MAX_ATR_SIZE];
    DWORD atrLength = sizeof atr;
    const LONG rv = SCardStatus(handle_, nullptr, &readerLength, &state, &active, atr, &atrLength);
    if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, operation("SCardStatus")));
    atr_.assign(atr, atr + std::min<DWORD>(atrLength, MAX_ATR_SIZE));
    if (active != 0) setProtocol(active);
    interface_ = classifyInterface(reader_, atr_);
    return {};
}

Expected<void, TransportError> PcscCard::reconnect() {
    DWORD active = 0;
    const LONG rv = SCardReconnect(handle_, shareMode_, kProtocols, SCARD_LEAVE_CARD, &active);
    if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, operation("SCardReconnect")));
    setProtocol(active);
    return readStatus();
}

Expected<void, TransportError> PcscCard::beginTransaction() {
    for (int round = 0; round < kMaxResetRounds; ++round) {
        const LONG rv = SCardBeginTransaction(handle_);
        if (rv == SCARD_S_SUCCESS) return {};
        if (rv != SCARD_W_RESET_CARD) {
            return unexpected(mapError(rv, operation("SCardBeginTransaction")));
        }
        // Reset by another program: the card is still there, only its state is gone. The new
        // transaction starts from scratch anyway, so recover and let the caller proceed.
        resetSeen_ = true;
        if (auto again = reconnect(); !again) return unexpected(std::move(again).error());
    }
    return unexpected(mapError(SCARD_W_RESET_CARD, operation("SCardBeginTransaction")));
}

void PcscCard::endTransaction() noexcept {
    const bool reset = resetRequested();
    const LONG rv = SCardEndTransaction(handle_, reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
    // Not reset now (the card may already be gone): the disconnect tries again.
    if (reset && rv != SCARD_S_SUCCESS) resetOnDisconnect_ = true;
}

Expected<Bytes, TransportError> PcscCard::transmitRaw(ByteView command) {
    const SCARD_IO_REQUEST* pci =
        activeProtocol_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD length = static_cast<DWORD>(receive_.size());
    const LONG rv = SCardTransmit(handle_, pci, command.data(), static_cast<DWORD>(command.size()),
                                  nullptr, receive_.data(), &length);
    if (rv == SCARD_S_SUCCESS) {
        // A card pulled mid-exchange can also come back as "success" with no answer at all.
        if (length < 2 && cardLeft()) {
            return unexpected(TransportError{
                TransportErrorKind::card_removed,
                operation("SCardTransmit") + ": no answer; the card has left the reader"});
        }
        return Bytes(receive_.begin(),
                     receive_.begin() + static_cast<std::ptrdiff_t>(
                                            std::min<std::size_t>(length, receive_.size())));
    }
    if (rv == SCARD_W_RESET_CARD) {
        // The sequence in progress lost its card state (selected file, verified PIN): reconnect so
        // the handle works again, and tell the caller to start over.
        resetSeen_ = true;
        if (auto again = reconnect(); !again) return unexpected(std::move(again).error());
    }
    TransportError error = mapError(rv, operation("SCardTransmit"));
    if (error.kind == TransportErrorKind::comm_error && cardLeft()) {
        error.kind = TransportErrorKind::card_removed;
        error.message += "; the card has left the reader";
    }
    return unexpected(std::move(error));
}

// A card pulled in the middle of an exchange often shows first as a failed transmit
// (SCARD_E_NOT_TRANSACTED through vpcd) and only ~0.4 s later as a removal. Ask pcscd for up to a
// second so the caller can report "removed" rather than "card error".
bool PcscCard::cardLeft() {
    for (int i = 0; i < 20; ++i) {
        DWORD state = 0, protocol = 0, atrLength = 0, nameLength = 0;
        const LONG rv =
            SCardStatus(handle_, nullptr, &nameLength, &state, &protocol, nullptr, &atrLength);
        if (rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD) return true;
        if (rv == SCARD_S_SUCCESS && (state & SCARD_PRESENT) == 0) return true;
        if (rv != SCARD_S_SUCCESS && rv != SCARD_E_INSUFFICIENT_BUFFER) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

Expected<Bytes, TransportError> PcscCard::control(std::uint32_t code, ByteView in) {
    Bytes out(1024);
    DWORD length = 0;
    const LONG rv =
        SCardControl(handle_, static_cast<DWORD>(code), in.data(), static_cast<DWORD>(in.size()),
                     out.data(), static_cast<DWORD>(out.size()), &length);
    if (rv != SCARD_S_SUCCESS) return unexpected(mapError(rv, operation("SCardControl")));
    out.resize(std::min<std::size_t>(length, out.size()));
    return out;
}

Expected<PinpadFeatures, TransportError> PcscCard::pinpadFeatures() {
    return pinpad_.features();
}

Expected<Bytes, TransportError> PcscCard::verifyPinDirect(const PinVerifyRequest& request) {
    return pinpad_.verifyPinDirect(request);
}

Expected<Bytes, TransportError> PcscCard::modifyPinDirect(const PinModifyRequest& request) {
    return pinpad_.modifyPinDirect(request);
}

}  // namespace sscard::apdu::pcsc
