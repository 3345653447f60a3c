#include "daemon/service/sync_scheduler.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "base/backoff.hpp"
#include "blacklist/sync_json.hpp"
#include "daemon/card_check.hpp"
#include "daemon/error_json.hpp"
#include "daemon/log.hpp"
#include "daemon/service/child_process.hpp"

namespace sscard::daemon {

SyncScheduler::SyncScheduler(const Config& config,
                             std::function<void(const blacklist::SyncResult&)> onUpdated)
    : config_(config), onUpdated_(std::move(onUpdated)) {}

SyncScheduler::~SyncScheduler() {
    stop();
}

void SyncScheduler::start() {
    if (config_.list.feed_url.empty()) {
        logWarn("no [list] feed_url: the frozen-card list is never synced");
        return;
    }
    thread_ = std::thread([this] { loop(); });
}

void SyncScheduler::stop() {
    {
        std::lock_guard lock(stopMutex_);
        stopping_ = true;
    }
    stopCv_.notify_all();
    if (pid_t child = child_.load(); child > 0) kill(child, SIGTERM);
    if (thread_.joinable()) thread_.join();
}

SyncState SyncScheduler::state() const {
    std::lock_guard lock(stateMutex_);
    return state_;
}

Expected<blacklist::SyncResult, Error> SyncScheduler::syncNow() {
    std::lock_guard one(runMutex_);
    std::vector<std::string> args{"/proc/self/exe", "sync", "--json"};
    if (!config_.source.empty()) {
        args.push_back("--config");
        args.push_back(config_.source);
    }
    auto run = runChild(args, child_);
    Expected<blacklist::SyncResult, Error> result =
        unexpected(makeError(ErrorCode::sync_failed, ""));
    if (!run) {
        result = unexpected(run.error());
    } else {
        auto answer = nlohmann::json::parse(run->output, nullptr, false);
        if (auto failure = errorFromJson(answer, ErrorCode::sync_failed)) {
            result = unexpected(std::move(*failure));
        } else if (auto synced = blacklist::syncResultFromJson(answer);
                   synced && run->status == 0) {
            result = *synced;
        } else {
            result = unexpected(makeError(ErrorCode::sync_failed,
                                          "the sync process ended with status " +
                                              std::to_string(run->status) + " and no answer"));
        }
    }
    {
        std::lock_guard lock(stateMutex_);
        state_.lastAttemptAt = unixNow();
        state_.lastError = result ? "" : errorText(result.error());
    }
    if (result && result->version != result->previous_version) {
        logInfo("list updated to version " + std::to_string(result->version) + " (" +
                std::string(blacklist::outcomeName(result->outcome)) + ")");
        if (onUpdated_) onUpdated_(*result);
    }
    return result;
}

void SyncScheduler::loop() {
    std::mt19937_64 rng{std::random_device{}()};
    Backoff backoff(listSyncBackoff(config_.list.poll_interval));
    // The first sync soon after start, spread so that terminals restarted together do not all ask
    // at once.
    std::chrono::milliseconds wait{std::uniform_int_distribution<int>(0, 2000)(rng)};
    for (;;) {
        {
            std::unique_lock lock(stopMutex_);
            if (stopCv_.wait_for(lock, wait, [&] { return stopping_; })) return;
        }
        auto result = syncNow();
        if (result) {
            backoff.reset();
            wait = backoff.current();
        } else {
            wait = backoff.next();
            logWarn("list sync failed (" + std::to_string(backoff.failures()) +
                    " in a row): " + errorText(result.error()));
        }
    }
}

}  // namespace sscard::daemon
