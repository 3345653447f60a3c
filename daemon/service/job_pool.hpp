// A fixed set of threads running queued jobs in order of arrival: the automatic checks of inserted
// cards (several threads), and the one writer thread that keeps audit and outbox writes in order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sscard::daemon {

class JobPool {
  public:
    explicit JobPool(std::size_t threads);
    ~JobPool();  // stop()
    JobPool(const JobPool&) = delete;
    JobPool& operator=(const JobPool&) = delete;

    // False (and the job dropped) once stopping.
    bool post(std::function<void()> job);
    // Runs what is queued, then joins the threads. Idempotent.
    void stop();

  private:
    void work();
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> workers_;
    bool stopping_ = false;
};

}  // namespace sscard::daemon
