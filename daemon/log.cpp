#include "daemon/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace sscard::daemon {

namespace {

LogLevel gLevel = LogLevel::info;
std::mutex gMutex;

int severity(LogLevel l) {
    switch (l) {
        case LogLevel::error:
            return 0;
        case LogLevel::warn:
            return 1;
        case LogLevel::info:
            return 2;
        case LogLevel::debug:
            return 3;
    }
    return 2;
}

int syslogPriority(LogLevel l) {
    switch (l) {
        case LogLevel::error:
            return 3;
        case LogLevel::warn:
            return 4;
        case LogLevel::info:
            return 6;
        case LogLevel::debug:
            return 7;
    }
    return 6;
}

}  // namespace

void setLogLevel(LogLevel level) {
    gLevel = level;
}

void logMessage(LogLevel level, std::string_view message) {
    if (severity(level) > severity(gLevel)) return;
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    std::lock_guard lock(gMutex);
    if (journal) {
        std::fprintf(stderr, "<%d>%.*s\n", syslogPriority(level), static_cast<int>(message.size()),
                     message.data());
    } else {
        std::time_t t = std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        std::fprintf(stderr, "%s sscardd[%s]: %.*s\n", stamp,
                     std::string(logLevelName(level)).c_str(), static_cast<int>(message.size()),
                     message.data());
    }
    std::fflush(stderr);
}

std::string maskCardNumber(std::string_view number) {
    if (number.size() <= 6) return std::string(number.size(), '*');
    return std::string(number.substr(0, 3)) + std::string(number.size() - 6, '*') +
           std::string(number.substr(number.size() - 3));
}

std::string maskCardId(std::string_view cardId) {
    if (cardId.size() < 10) return std::string(cardId.size(), '*');
    return std::string(cardId.substr(0, 6)) + "..." + std::string(cardId.substr(cardId.size() - 4));
}

}  // namespace sscard::daemon
