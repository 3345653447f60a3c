// The daemon's log: one line per message on stderr, with a syslog priority prefix ("<6>") that
// journald reads when the service runs under systemd, and a timestamp otherwise. Personal data (the
// social security number, the name) is never passed here; card identifiers are masked.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace sscard::daemon {

void setLogLevel(LogLevel level);
void logMessage(LogLevel level, std::string_view message);
inline void logError(std::string_view m) {
    logMessage(LogLevel::error, m);
}
inline void logWarn(std::string_view m) {
    logMessage(LogLevel::warn, m);
}
inline void logInfo(std::string_view m) {
    logMessage(LogLevel::info, m);
}
inline void logDebug(std::string_view m) {
    logMessage(LogLevel::debug, m);
}

// "B7K334774" → "B7K***774", a card id → its region and last 4 digits ("330300…FFFF").
std::string maskCardNumber(std::string_view number);
std::string maskCardId(std::string_view cardId);

}  // namespace sscard::daemon
