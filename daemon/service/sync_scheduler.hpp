// Keeping the frozen-card list current: a sync every [list] poll_interval (±10 % jitter; after
// failures it backs off, doubling up to 16×, never beyond 15 minutes or the poll interval if
// longer), and on request (list.sync). One sync runs at a time.
//
// The sync runs in a child process (`sscardd sync --json`): a 10 M-entry download needs a few
// hundred MiB while it runs, which glibc would otherwise keep in the long-running daemon. Killing
// the child is safe: each update is one SQLite transaction.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "blacklist/sync.hpp"
#include "config/config.hpp"

namespace sscard::daemon {

struct SyncState {
    std::int64_t lastAttemptAt = 0;  // Unix seconds; 0: never
    std::string lastError;           // "" after a success
};

class SyncScheduler {
  public:
    // `onUpdated` runs (on the syncing thread) after a sync that changed the list's version.
    SyncScheduler(const Config& config,
                  std::function<void(const blacklist::SyncResult&)> onUpdated);
    ~SyncScheduler();  // stop()

    // Starts the periodic loop (only when [list] feed_url is set; says so in the log otherwise).
    void start();
    // Ends the loop and a sync child that is running. Idempotent.
    void stop();

    Expected<blacklist::SyncResult, Error> syncNow();
    SyncState state() const;

  private:
    void loop();

    const Config& config_;
    std::function<void(const blacklist::SyncResult&)> onUpdated_;
    std::thread thread_;
    std::mutex stopMutex_;
    std::condition_variable stopCv_;
    bool stopping_ = false;
    std::mutex runMutex_;          // one sync at a time
    std::atomic<pid_t> child_{0};  // the sync process while one runs
    mutable std::mutex stateMutex_;
    SyncState state_;
};

}  // namespace sscard::daemon
