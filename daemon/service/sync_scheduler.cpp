#include "daemon/service/sync_scheduler.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

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
    using namespace std::chrono_literals;
    std::mt19937_64 rng{std::random_device{}()};
    auto poll = config_.list.poll_interval;
    auto jitter = [&](std::chrono::milliseconds d) {
        std::uniform_real_distribution<double> f(0.9, 1.1);
        return std::chrono::milliseconds(
            static_cast<std::int64_t>(static_cast<double>(d.count()) * f(rng)));
    };
    std::chrono::milliseconds wait{std::uniform_int_distribution<int>(0, 2000)(rng)};
    int failures = 0;
    for (;;) {
        {
            std::unique_lock lock(stopMutex_);
            if (stopCv_.wait_for(lock, wait, [&] { return stopping_; })) return;
        }
        auto result = syncNow();
        if (result) {
            failures = 0;
            wait = jitter(poll);
        } else {
            ++failures;
            logWarn("list sync failed (" + std::to_string(failures) +
                    " in a row): " + errorText(result.error()));
            auto backoff = poll * (1 << std::min(failures - 1, 4));
            auto cap = std::max<std::chrono::milliseconds>(poll, 15min);
            wait = jitter(std::min(backoff, cap));
        }
    }
}

}  // namespace sscard::daemon
