#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "base/worker_pool.hpp"

using namespace sscard;
using namespace std::chrono_literals;

namespace {

// Holds jobs until opened.
struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock lk(mu);
        cv.wait(lk, [this] { return open; });
    }
    void release() {
        {
            std::lock_guard lk(mu);
            open = true;
        }
        cv.notify_all();
    }
};

}  // namespace

TEST_CASE("worker pool starts threads on demand, up to its maximum") {
    WorkerPool pool({.max_threads = 3, .max_queued = 0});
    CHECK(pool.threads() == 0);
    Gate gate;
    std::atomic<int> done{0};
    for (int i = 0; i < 5; ++i) {
        REQUIRE(pool.post([&] {
            gate.wait();
            ++done;
        }));
    }
    CHECK(pool.threads() == 3);
    gate.release();
    pool.stop();
    CHECK(done == 5);
}

TEST_CASE("worker pool reuses an idle thread instead of starting another") {
    WorkerPool pool({.max_threads = 4, .max_queued = 0});
    std::atomic<int> done{0};
    for (int i = 0; i < 3; ++i) {
        REQUIRE(pool.post([&] { ++done; }));
        auto end = std::chrono::steady_clock::now() + 5s;
        while (done != i + 1 && std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(1ms);
        }
        std::this_thread::sleep_for(5ms);  // let the thread get back to waiting
    }
    CHECK(done == 3);
    CHECK(pool.threads() == 1);
}

TEST_CASE("worker pool refuses jobs beyond its queue bound and after stop") {
    WorkerPool pool({.max_threads = 1, .max_queued = 2});
    Gate gate, started;
    REQUIRE(pool.post([&] {
        started.release();
        gate.wait();
    }));
    started.wait();  // the only thread is busy; the queue is empty
    CHECK(pool.post([] {}));
    CHECK(pool.post([] {}));
    CHECK_FALSE(pool.post([] {}));  // queue full
    CHECK(pool.queued() == 2);
    gate.release();
    pool.stop();
    CHECK(pool.queued() == 0);
    CHECK_FALSE(pool.post([] {}));
    pool.stop();  // idempotent
}

TEST_CASE("worker pool stop finishes queued jobs, or drops them when asked") {
    for (auto mode : {WorkerPool::Queued::finish, WorkerPool::Queued::drop}) {
        WorkerPool pool({.max_threads = 1, .max_queued = 0});
        Gate gate, started;
        std::atomic<int> ran{0};
        REQUIRE(pool.post([&] {
            started.release();
            gate.wait();
            ++ran;
        }));
        started.wait();
        for (int i = 0; i < 3; ++i) REQUIRE(pool.post([&] { ++ran; }));
        std::thread opener([&] {
            std::this_thread::sleep_for(20ms);
            gate.release();
        });
        pool.stop(mode);
        opener.join();
        CHECK(ran == (mode == WorkerPool::Queued::finish ? 4 : 1));
    }
}

TEST_CASE("a throwing job does not take its worker down") {
    WorkerPool pool({.max_threads = 1, .max_queued = 0});
    std::atomic<int> ran{0};
    REQUIRE(pool.post([] { throw std::runtime_error("job failed"); }));
    REQUIRE(pool.post([&] { ++ran; }));
    pool.stop();
    CHECK(ran == 1);
}
