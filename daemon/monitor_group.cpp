#include "daemon/monitor_group.hpp"

#include <utility>

namespace sscard::daemon {

MonitorGroup::MonitorGroup(std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors)
    : monitors_(std::move(monitors)) {}

MonitorGroup::~MonitorGroup() {
    stop();
}

void MonitorGroup::start(apdu::ReaderMonitor::Callback onEvent) {
    if (!threads_.empty()) return;
    onEvent_ = std::move(onEvent);
    threads_.reserve(monitors_.size());
    for (auto& monitor : monitors_) {
        apdu::ReaderMonitor* m = monitor.get();
        threads_.emplace_back([this, m] {
            m->run(stop_, [this](const apdu::ReaderEvent& event) {
                std::lock_guard lock(callbackMutex_);
                onEvent_(event);
            });
        });
    }
}

void MonitorGroup::stop() noexcept {
    stop_.store(true);
    for (auto& monitor : monitors_) monitor->requestStop();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

}  // namespace sscard::daemon
