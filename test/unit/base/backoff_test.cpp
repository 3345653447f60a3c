#include <doctest/doctest.h>

#include <chrono>

#include "base/backoff.hpp"

using namespace sscard;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST_CASE("backoff doubles from the initial delay up to the cap, without jitter") {
    Backoff b(BackoffPolicy::doubling(200ms, 5000ms));
    const milliseconds expected[] = {200ms, 400ms, 800ms, 1600ms, 3200ms, 5000ms, 5000ms};
    for (milliseconds e : expected) CHECK(b.next() == e);
    CHECK(b.failures() == 7);
    b.reset();
    CHECK(b.failures() == 0);
    CHECK(b.next() == 200ms);
}

TEST_CASE("backoff jitter spans [1 - down, 1 + up] of the delay, drawn from the random source") {
    double unit = 0.0;
    Backoff b(BackoffPolicy::doubling(1000ms, 60000ms, 0.1, 0.1), [&] { return unit; });
    CHECK(b.next() == 900ms);
    unit = 1.0;
    CHECK(b.next() == 2200ms);
    unit = 0.5;
    CHECK(b.next() == 4000ms);
    CHECK(b.current() == 4000ms);  // does not count a failure
    CHECK(b.failures() == 3);
}

TEST_CASE("backoffDelay: the outbox sender's half-to-full spread and its edges") {
    BackoffPolicy p{1000ms, 300000ms, 0.5, 0.0};
    CHECK(backoffDelay(p, 1, 1.0) == 1000ms);
    CHECK(backoffDelay(p, 1, 0.0) == 500ms);
    CHECK(backoffDelay(p, 0, 1.0) == 1000ms);  // below 1 counts as 1
    CHECK(backoffDelay(p, 9, 1.0) == 256000ms);
    CHECK(backoffDelay(p, 10, 1.0) == 300000ms);
    CHECK(backoffDelay(p, 10'000, 0.0) == 150000ms);
    CHECK(backoffDelay(p, 3, 7.0) == 4000ms);  // unit clamped to [0, 1]
    BackoffPolicy tiny{0ms, 0ms, 0.5, 0.0};
    CHECK(backoffDelay(tiny, 1, 0.0) == 1ms);  // never zero
}

TEST_CASE("list sync rule: poll * 2^(n-1), at most 16x, never beyond max(poll, 15 min)") {
    // A 1-minute poll: 1, 2, 4, 8, then 15 minutes (16 would pass the 15-minute bound).
    BackoffPolicy p = listSyncBackoff(std::chrono::minutes(1));
    const milliseconds expected[] = {1min, 2min, 4min, 8min, 15min, 15min};
    int n = 1;
    for (milliseconds e : expected) CHECK(backoffDelay(p, n++, 0.5) == e);
    CHECK(backoffDelay(p, 1, 0.0) == 54s);   // -10 %
    CHECK(backoffDelay(p, 5, 1.0) == 990s);  // +10 % of 15 min
    // A 10-second poll stops at 16x.
    BackoffPolicy fast = listSyncBackoff(10s);
    CHECK(backoffDelay(fast, 5, 0.5) == 160s);
    CHECK(backoffDelay(fast, 50, 0.5) == 160s);
    // A poll above 15 minutes is never stretched by failures.
    BackoffPolicy slow = listSyncBackoff(std::chrono::hours(1));
    CHECK(backoffDelay(slow, 4, 0.5) == std::chrono::hours(1));
}
