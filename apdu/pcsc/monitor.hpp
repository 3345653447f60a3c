// Reader and card events from PC/SC, the way docs/readers.md#events says a long-running client must
// watch them: one SCardGetStatusChange over every reader plus "\\?PnP?\Notification" (or, where the
// platform has no PnP notification, re-listing on a timer), finite waits so a stop request is seen
// without busy polling, the per-reader event counter for a card swapped between two calls, and
// survival of pcscd going away and coming back.
#pragma once

#include <winscard.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "apdu/reader.hpp"
#include "apdu/transport.hpp"
#include "base/bytes.hpp"

namespace sscard::apdu::pcsc {

using ReaderEvent = apdu::ReaderEvent;

struct MonitorOptions {
    // At start: reader_added for each reader and card_inserted for each card already present, so
    // a watcher sees the initial state. Off: only changes are reported.
    bool emitInitial = true;
    // Longest single SCardGetStatusChange wait; also how soon the stop flag passed to run() is
    // noticed when requestStop() is not used.
    std::chrono::milliseconds waitTimeout{1000};
    // Use "\\?PnP?\Notification" when the platform offers it (probed once per context). Off:
    // always re-list on a timer (for platforms whose PnP notification misbehaves).
    bool usePnp = true;
    // Without PnP notification: how often the reader list is read again.
    std::chrono::milliseconds relistInterval{1000};
    // With PnP notification, the list is still read again this often, as a safety net: pcsc-lite
    // 1.9.9 compares the reader count against a snapshot taken when each wait starts, so a reader
    // that arrives between two waits raises no PnP event.
    std::chrono::milliseconds pnpRelistInterval{60000};
    // Re-establishing the context after service loss: first pause, doubling up to the maximum.
    std::chrono::milliseconds backoffInitial{200};
    std::chrono::milliseconds backoffMax{5000};
};

// Watches readers on a PC/SC context of its own (never share it: SCardGetStatusChange holds its
// context's lock for the whole wait, which would stall transmits on the same context).
class Monitor final : public ReaderMonitor {
  public:
    explicit Monitor(MonitorOptions options = {});
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;
    ~Monitor();

    // Blocks, calling onEvent on this thread for each event, until `stop` is set or requestStop()
    // is called. Never fails: service loss is reported as events and recovered from. A card in a
    // reader that leaves (or in every reader, when the service goes) is reported card_removed
    // before its reader_removed. A remove and insert between two waits is reported as both.
    void run(const std::atomic<bool>& stop, const Callback& onEvent) override;

    // From any thread (not from a signal handler: set the stop flag there, which run() notices
    // within waitTimeout): ends run() promptly (SCardCancel wakes a wait in progress; a cancel that
    // lands just before a wait starts is covered by the finite wait). A stopped Monitor stays
    // stopped.
    void requestStop() noexcept override;

  private:
    class Session;
    friend class Session;

    bool stopping(const std::atomic<bool>& stop) const noexcept;
    // Sleeps `duration`, waking early on requestStop() and, at least every waitTimeout, to look
    // at `stop`.
    void pause(const std::atomic<bool>& stop, std::chrono::milliseconds duration);
    void publishContext(SCARDCONTEXT context, bool valid) noexcept;

    MonitorOptions options_;
    std::atomic<bool> stopRequested_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    SCARDCONTEXT current_ = 0;  // the context a wait may be running on (under mutex_)
    bool haveCurrent_ = false;
};

// --- pure pieces, exposed for tests ---

// What happened to a reader's card between two of its states (dwCurrentState → dwEventState).
enum class CardChange { none, inserted, removed, removed_and_inserted, reader_gone };
CardChange classifyChange(DWORD previous, DWORD current);

}  // namespace sscard::apdu::pcsc
