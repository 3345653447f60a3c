#include "base/worker_pool.hpp"

#include <algorithm>
#include <utility>

namespace sscard {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(options) {}

WorkerPool::~WorkerPool() {
    stop();
}

bool WorkerPool::post(Job job) {
    {
        std::lock_guard lk(mu_);
        if (stopping_) return false;
        if (options_.max_queued > 0 && queue_.size() >= options_.max_queued) return false;
        queue_.push_back(std::move(job));
        // Jobs already waiting are spoken for by the idle threads; start one more if none is free.
        if (queue_.size() > idle_ &&
            threads_.size() < std::max<std::size_t>(options_.max_threads, 1)) {
            try {
                threads_.emplace_back([this] { work(); });
            } catch (...) {
                // No new thread: the running ones take the job when they are free (or, with none
                // running, refuse it).
                if (threads_.empty()) {
                    queue_.pop_back();
                    return false;
                }
            }
        }
    }
    cv_.notify_one();
    return true;
}

void WorkerPool::work() {
    std::unique_lock lk(mu_);
    for (;;) {
        ++idle_;
        cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
        --idle_;
        if (queue_.empty()) return;  // stopping, nothing left
        Job job = std::move(queue_.front());
        queue_.pop_front();
        lk.unlock();
        try {
            job();
        } catch (...) {
            // A job's failure is its own business.
        }
        job = nullptr;  // release what it holds outside the lock
        lk.lock();
    }
}

void WorkerPool::stop(Queued queued) {
    std::deque<Job> dropped;
    std::vector<std::thread> threads;
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        if (queued == Queued::drop) dropped.swap(queue_);
        threads.swap(threads_);
    }
    cv_.notify_all();
    dropped.clear();
    for (auto& t : threads) {
        if (t.joinable()) t.join();
    }
}

std::size_t WorkerPool::threads() const {
    std::lock_guard lk(mu_);
    return threads_.size();
}

std::size_t WorkerPool::queued() const {
    std::lock_guard lk(mu_);
    return queue_.size();
}

}  // namespace sscard
