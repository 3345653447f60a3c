#include "base/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sscard {

using std::chrono::milliseconds;

milliseconds backoffDelay(const BackoffPolicy& policy, int failures, double unit) {
    milliseconds initial = std::max(policy.initial, milliseconds(1));
    milliseconds max = std::max(policy.max, initial);
    if (failures < 1) failures = 1;
    milliseconds d = initial;
    for (int i = 1; i < failures && d < max; ++i) d *= 2;
    d = std::min(d, max);
    double down = std::clamp(policy.jitter_down, 0.0, 1.0);
    double up = std::clamp(policy.jitter_up, 0.0, 1.0);
    if (down == 0.0 && up == 0.0) return d;
    unit = std::clamp(unit, 0.0, 1.0);
    double factor = (1.0 - down) + (down + up) * unit;
    auto jittered =
        static_cast<milliseconds::rep>(std::llround(static_cast<double>(d.count()) * factor));
    return milliseconds(std::max<milliseconds::rep>(jittered, 1));
}

BackoffPolicy listSyncBackoff(milliseconds poll) {
    poll = std::max(poll, milliseconds(1));
    BackoffPolicy p;
    p.initial = poll;
    p.max = std::min(poll * 16, std::max(poll, milliseconds(std::chrono::minutes(15))));
    p.jitter_down = 0.1;
    p.jitter_up = 0.1;
    return p;
}

Backoff::Backoff(BackoffPolicy policy, RandomUnit random)
    : policy_(policy), random_(std::move(random)) {
    if (!random_ && (policy_.jitter_down > 0.0 || policy_.jitter_up > 0.0)) {
        rng_.seed(std::random_device{}());
    }
}

double Backoff::unit() {
    if (random_) return random_();
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

milliseconds Backoff::next() {
    if (failures_ < 1'000'000) ++failures_;
    return current();
}

milliseconds Backoff::current() {
    return backoffDelay(policy_, failures_, unit());
}

}  // namespace sscard
