#include "daemon/watch.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/clock.hpp"
#include "daemon/monitor_group.hpp"
#include "daemon/reader_setup.hpp"

namespace sscard::daemon {

namespace {

std::atomic<bool> gStop{false};

extern "C" void onStopSignal(int) {
    gStop.store(true);
}

std::string utcNow() {
    std::int64_t ms = unixMillisNow();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace

int diagWatch(const Config& config, const Output& out) {
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    // Every transport's monitor on a thread of its own, events printed one at a time.
    MonitorGroup group(makeMonitors(config));
    group.start([&](const apdu::ReaderEvent& event) {
        using T = apdu::ReaderEvent::Type;
        bool hasReader = event.type != T::service_lost && event.type != T::service_restored;
        bool hasCard = event.type == T::card_inserted;
        if (out.json) {
            nlohmann::json j{{"event", apdu::eventName(event.type)}, {"at", utcNow()}};
            if (hasReader) {
                j["reader"] = event.reader;
                j["interface"] = apdu::interfaceName(event.interface);
            }
            if (hasCard) j["atr"] = toHex(event.atr);
            if (!event.message.empty()) j["message"] = event.message;
            out.printJson(j);
        } else {
            std::printf("%s  %-16s %s%s%s\n", utcNow().c_str(), apdu::eventName(event.type),
                        hasReader ? event.reader.c_str() : "", hasCard ? "  ATR " : "",
                        hasCard ? toHex(event.atr).c_str() : "");
            std::fflush(stdout);
        }
    });
    // The signal handler only sets the flag; the monitors see it through stop().
    while (!gStop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    group.stop();
    return 0;
}

}  // namespace sscard::daemon
