// PIN attempts per reader: at most N in any 60 s window, so that a compromised kiosk application
// cannot walk a card's retry counter (or an issuer key's) down in a burst.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sscard::daemon {

class PinAttemptLimiter {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kWindow{60};

    // `now` is injectable for tests.
    explicit PinAttemptLimiter(int perMinute, std::function<Clock::time_point()> now = Clock::now);

    // Counts an attempt at `reader` and says whether it may go ahead (false: the window is full,
    // nothing counted).
    bool tryAttempt(const std::string& reader);

  private:
    std::size_t limit_;
    std::function<Clock::time_point()> now_;
    std::mutex mutex_;
    std::map<std::string, std::deque<Clock::time_point>> attempts_;
};

}  // namespace sscard::daemon
