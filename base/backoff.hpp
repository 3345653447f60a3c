// Exponential backoff: a delay that doubles with each consecutive failure, from `initial` up to
// `max`, optionally spread by a random factor, and back to `initial` after a success.
//
// The delay after n consecutive failures (n >= 1) is min(initial * 2^(n-1), max), multiplied by a
// factor drawn uniformly from [1 - jitter_down, 1 + jitter_up] (rounded, at least 1 ms).
// Examples:
//   outbox sender:  {initial, max, 0.5, 0.0}          -> between half and all of the delay
//   list sync:      {poll, min(16 * poll, max(poll, 15 min)), 0.1, 0.1}   (see listSyncBackoff)
#pragma once

#include <chrono>
#include <functional>
#include <random>

namespace sscard {

struct BackoffPolicy {
    std::chrono::milliseconds initial{1000};  // the first delay (at least 1 ms)
    std::chrono::milliseconds max{60000};     // cap before jitter (raised to initial if below)
    double jitter_down = 0.0;                 // fractions in [0, 1]
    double jitter_up = 0.0;

    static BackoffPolicy doubling(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                  double jitter_down = 0.0, double jitter_up = 0.0) {
        return BackoffPolicy{initial, max, jitter_down, jitter_up};
    }
};

// The delay after `failures` consecutive failures (values below 1 count as 1), `unit` a random
// number in [0, 1] choosing the jitter factor (0: 1 - jitter_down, 1: 1 + jitter_up).
std::chrono::milliseconds backoffDelay(const BackoffPolicy& policy, int failures, double unit);

// The list sync's rule: poll * 2^(failures-1), at most 16 * poll, never beyond max(poll, 15 min),
// +-10 % jitter.
BackoffPolicy listSyncBackoff(std::chrono::milliseconds poll);

// Counts consecutive failures and hands out the next delay.
class Backoff {
  public:
    using RandomUnit = std::function<double()>;  // uniform in [0, 1]

    // Without a random source (and only needed when the policy has jitter), a private
    // std::mt19937 seeded from std::random_device.
    explicit Backoff(BackoffPolicy policy, RandomUnit random = {});

    // Counts one more failure and returns how long to wait before the next try.
    std::chrono::milliseconds next();
    // The delay for the failures counted so far, without counting one; after reset(), `initial`
    // with jitter (e.g. the regular poll interval after a success).
    std::chrono::milliseconds current();
    // A success: the next failure waits `initial` again.
    void reset() { failures_ = 0; }
    int failures() const { return failures_; }
    const BackoffPolicy& policy() const { return policy_; }

  private:
    double unit();

    BackoffPolicy policy_;
    RandomUnit random_;
    std::mt19937 rng_;
    int failures_ = 0;
};

}  // namespace sscard
