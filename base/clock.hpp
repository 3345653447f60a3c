// Wall-clock time as the contract counts it: whole seconds (or milliseconds) since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace sscard {

inline std::int64_t unixSeconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

inline std::int64_t unixMillis(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline std::int64_t unixSecondsNow() {
    return unixSeconds(std::chrono::system_clock::now());
}

inline std::int64_t unixMillisNow() {
    return unixMillis(std::chrono::system_clock::now());
}

}  // namespace sscard
