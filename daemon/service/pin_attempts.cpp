#include "daemon/service/pin_attempts.hpp"

namespace sscard::daemon {

PinAttemptLimiter::PinAttemptLimiter(int perMinute, std::function<Clock::time_point()> now)
    : limit_(static_cast<std::size_t>(perMinute < 0 ? 0 : perMinute)), now_(std::move(now)) {}

bool PinAttemptLimiter::tryAttempt(const std::string& reader) {
    std::lock_guard lock(mutex_);
    auto& times = attempts_[reader];
    auto now = now_();
    while (!times.empty() && now - times.front() > kWindow) times.pop_front();
    if (times.size() >= limit_) return false;
    times.push_back(now);
    return true;
}

}  // namespace sscard::daemon
