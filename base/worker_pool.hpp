// A pool of worker threads running posted jobs: threads are started on demand (a job posted while
// every thread is busy starts a new one) up to max_threads, and idle threads are kept for later.
// The queue of waiting jobs may be bounded.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sscard {

struct WorkerPoolOptions {
    std::size_t max_threads = 4;  // at least 1
    std::size_t max_queued = 0;   // jobs waiting for a thread; 0: unbounded
};

class WorkerPool {
  public:
    using Job = std::function<void()>;

    explicit WorkerPool(WorkerPoolOptions options);
    ~WorkerPool();  // stop()
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues a job; false (the job is dropped) when the queue is full or the pool is stopping.
    // A job that throws has the exception swallowed: it never takes its thread down.
    bool post(Job job);

    enum class Queued { finish, drop };
    // Refuses new jobs, lets the threads finish every job already queued (or drops those not
    // started yet, destroying them outside the lock), and joins the threads. Idempotent; must not
    // be called from a job.
    void stop(Queued queued = Queued::finish);

    std::size_t threads() const;  // started so far
    std::size_t queued() const;   // waiting for a thread

  private:
    void work();

    const WorkerPoolOptions options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    std::vector<std::thread> threads_;
    std::size_t idle_ = 0;
    bool stopping_ = false;
};

}  // namespace sscard
