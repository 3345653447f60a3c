#include "apdu/nfc/monitor.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "base/backoff.hpp"

namespace sscard::apdu::nfc {

NfcMonitor::NfcMonitor(std::shared_ptr<NfcDevice> device, NfcMonitorOptions options)
    : device_(std::move(device)), options_(options) {}

bool NfcMonitor::stopping(const std::atomic<bool>& stop) const noexcept {
    return stop.load() || stopRequested_.load();
}

void NfcMonitor::requestStop() noexcept {
    stopRequested_.store(true);
    std::lock_guard lock(mutex_);
    wake_.notify_all();
}

void NfcMonitor::pause(const std::atomic<bool>& stop, std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    std::unique_lock lock(mutex_);
    while (!stopping(stop)) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        // The caller's flag is not tied to the condition variable: look at it every 100 ms.
        wake_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                 until - now, std::chrono::milliseconds(100)));
    }
}

void NfcMonitor::run(const std::atomic<bool>& stop, const Callback& onEvent) {
    const std::string& name = device_->readerName();
    auto emit = [&](ReaderEvent::Type type, const Bytes& atr = {}, std::string message = {}) {
        ReaderEvent event;
        event.type = type;
        if (type != ReaderEvent::service_lost && type != ReaderEvent::service_restored) {
            event.reader = name;
            event.interface = Interface::contactless;
        }
        event.atr = atr;
        event.message = std::move(message);
        onEvent(event);
    };

    bool added = false;
    bool lost = false;  // service_lost emitted and not yet restored
    std::optional<FieldCard> card;
    Backoff backoff(BackoffPolicy::doubling(options_.backoffInitial, options_.backoffMax));
    while (!stopping(stop)) {
        auto now = device_->poll();
        if (!now) {
            if (!lost) {
                emit(ReaderEvent::service_lost, {}, now.error().message);
                lost = true;
            }
            if (card) emit(ReaderEvent::card_removed, card->atr);
            card.reset();
            if (added) emit(ReaderEvent::reader_removed);
            added = false;
            pause(stop, backoff.next());
            continue;
        }
        backoff.reset();
        if (!added) {
            if (lost) emit(ReaderEvent::service_restored);
            lost = false;
            emit(ReaderEvent::reader_added);
            added = true;
        }
        const std::optional<FieldCard>& present = *now;
        if (card && (!present || present->session != card->session)) {
            emit(ReaderEvent::card_removed, card->atr);
            card.reset();
        }
        if (present && !card) {
            card = present;
            emit(ReaderEvent::card_inserted, card->atr);
        }
        pause(stop, options_.pollInterval);
    }
}

}  // namespace sscard::apdu::nfc
