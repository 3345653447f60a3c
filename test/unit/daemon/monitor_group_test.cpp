#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/monitor_group.hpp"

using namespace sscard;
using namespace sscard::daemon;

namespace {

// Emits `count` card_inserted events for `reader`, then waits for the stop.
class FakeMonitor : public apdu::ReaderMonitor {
  public:
    FakeMonitor(std::string reader, int count) : reader_(std::move(reader)), count_(count) {}
    void run(const std::atomic<bool>& stop, const Callback& onEvent) override {
        for (int i = 0; i < count_; ++i) {
            apdu::ReaderEvent e;
            e.type = apdu::ReaderEvent::card_inserted;
            e.reader = reader_;
            onEvent(e);
        }
        while (!stop.load() && !stopRequested_.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        finished = true;
    }
    void requestStop() noexcept override { stopRequested_.store(true); }
    std::atomic<bool> finished{false};

  private:
    std::string reader_;
    int count_;
    std::atomic<bool> stopRequested_{false};
};

}  // namespace

TEST_CASE("a monitor group merges every monitor's events, one callback at a time") {
    std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors;
    std::vector<FakeMonitor*> fakes;
    for (const char* name : {"a", "b", "c"}) {
        auto m = std::make_unique<FakeMonitor>(name, 200);
        fakes.push_back(m.get());
        monitors.push_back(std::move(m));
    }
    MonitorGroup group(std::move(monitors));
    CHECK(group.size() == 3);

    std::mutex seenMutex;
    std::vector<std::string> seen;
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    group.start([&](const apdu::ReaderEvent& e) {
        if (inside.fetch_add(1) != 0) overlapped = true;
        std::this_thread::sleep_for(std::chrono::microseconds(10));
        {
            std::lock_guard lock(seenMutex);
            seen.push_back(e.reader);
        }
        inside.fetch_sub(1);
    });
    for (int i = 0; i < 500; ++i) {
        {
            std::lock_guard lock(seenMutex);
            if (seen.size() == 600) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    group.stop();
    CHECK(seen.size() == 600);
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == std::set<std::string>{"a", "b", "c"});
    CHECK_FALSE(overlapped.load());
    for (auto* f : fakes) CHECK(f->finished.load());
    group.stop();  // idempotent
}

TEST_CASE("an empty group starts and stops") {
    MonitorGroup group({});
    group.start([](const apdu::ReaderEvent&) {});
    group.stop();
    CHECK(group.size() == 0);
}
