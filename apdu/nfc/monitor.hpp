// Reader and card events of one libnfc device, by polling: libnfc has no event wait. Every
// pollInterval the device's card is checked (a presence check of the activated card, or a selection
// when the field was empty); nothing runs in between, so an idle terminal costs one short exchange
// with the PN532 per interval.
//
// Events: reader_added when the device opens (at start, and again after it came back),
// card_inserted for each new activation (a new tap), card_removed when the presence check fails,
// and when the device dies: service_lost (message naming the device), card_removed for its card,
// reader_removed. It is then opened again with backoff; success gives service_restored and
// reader_added. A device that cannot be opened at start gives service_lost once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "apdu/nfc/device.hpp"
#include "apdu/reader.hpp"

namespace sscard::apdu::nfc {

struct NfcMonitorOptions {
    std::chrono::milliseconds pollInterval{250};
    // Re-opening a dead device: first pause, doubling up to the maximum.
    std::chrono::milliseconds backoffInitial{250};
    std::chrono::milliseconds backoffMax{4000};
};

class NfcMonitor final : public ReaderMonitor {
  public:
    explicit NfcMonitor(std::shared_ptr<NfcDevice> device, NfcMonitorOptions options = {});

    void run(const std::atomic<bool>& stop, const Callback& onEvent) override;
    void requestStop() noexcept override;

  private:
    bool stopping(const std::atomic<bool>& stop) const noexcept;
    void pause(const std::atomic<bool>& stop, std::chrono::milliseconds duration);

    std::shared_ptr<NfcDevice> device_;
    NfcMonitorOptions options_;
    std::atomic<bool> stopRequested_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

}  // namespace sscard::apdu::nfc
