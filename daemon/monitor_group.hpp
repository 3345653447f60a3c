// Several ReaderMonitors (one per transport or NFC device) run together, each on a thread of its
// own, their events merged into one callback. Callbacks are serialised: at most one runs at a time,
// whatever monitor it comes from.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "apdu/reader.hpp"

namespace sscard::daemon {

class MonitorGroup {
  public:
    explicit MonitorGroup(std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors);
    MonitorGroup(const MonitorGroup&) = delete;
    MonitorGroup& operator=(const MonitorGroup&) = delete;
    // stop()s.
    ~MonitorGroup();

    // Starts every monitor's run() on its own thread; onEvent is called under the group's mutex.
    // Once only.
    void start(apdu::ReaderMonitor::Callback onEvent);

    // Sets the stop flag, requestStop()s every monitor and joins the threads. Idempotent; not from
    // within a callback.
    void stop() noexcept;

    std::size_t size() const { return monitors_.size(); }

  private:
    std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors_;
    std::vector<std::thread> threads_;
    apdu::ReaderMonitor::Callback onEvent_;
    std::mutex callbackMutex_;
    std::atomic<bool> stop_{false};
};

}  // namespace sscard::daemon
