// An RAII PC/SC context: SCardEstablishContext on creation, SCardReleaseContext on destruction.
//
// Rules for contexts in this program (docs/readers.md#contexts-and-connections):
//  - A context is not shared between threads that use it at the same time: pcsc-lite serialises the
//    calls on one context, and SCardGetStatusChange holds that lock for its whole wait.
//  - The event Monitor therefore always runs on a context of its own; every PcscCard owns its
//    context too, so a transmit never waits behind a status wait or another reader's exchange.
//  - After service loss (errors.hpp: isServiceLoss) a context never recovers: drop it and every
//    handle from it, and establish a new one.
#pragma once

#include <winscard.h>

#include <string>
#include <vector>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu::pcsc {

// A reader's state as SCardGetStatusChange reports it.
struct ReaderState {
    std::string name;
    DWORD eventState = 0;  // raw dwEventState (event counter in the high 16 bits)
    bool known = true;     // false: the reader vanished (SCARD_STATE_UNKNOWN / IGNORE)
    bool cardPresent = false;
    Bytes atr;  // empty when no card
};

class Context {
  public:
    // SCARD_SCOPE_SYSTEM. no_service when pcscd is not running.
    static Expected<Context, TransportError> establish();

    Context(Context&& other) noexcept;
    Context& operator=(Context&& other) noexcept;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    ~Context();

    SCARDCONTEXT handle() const { return handle_; }

    // Reader names; an empty list (not an error) when there are no readers.
    Expected<std::vector<std::string>, TransportError> listReaders() const;

    // Presence and ATR of each named reader, now (SCardGetStatusChange with timeout 0). A reader
    // that vanished since it was listed comes back with known = false.
    Expected<std::vector<ReaderState>, TransportError> readerStates(
        const std::vector<std::string>& names) const;

    // SCardCancel: wakes a SCardGetStatusChange in progress on this context (from another thread).
    void cancel() const noexcept;

  private:
    explicit Context(SCARDCONTEXT handle) : handle_(handle) {}
    void release() noexcept;

    SCARDCONTEXT handle_ = 0;
    bool valid_ = false;
};

// SCardListReaders' "a\0b\0\0" multi-string as names (empty entries dropped).
std::vector<std::string> splitMultiString(const char* data, std::size_t size);

// The state bits of a SCARD_READERSTATE turned into a ReaderState (pure; for tests).
ReaderState toReaderState(const std::string& name, DWORD eventState, const unsigned char* atr,
                          DWORD atrLength);

}  // namespace sscard::apdu::pcsc
