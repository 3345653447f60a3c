#include "daemon/service/status_report.hpp"

#include "daemon/card_json.hpp"

namespace sscard::daemon {

nlohmann::json StatusReport::list() {
    auto meta = list_.meta();
    if (!meta)
        return {
            {"error", {{"code", codeName(meta.error().code)}, {"message", meta.error().message}}}};
    auto j = blacklist::statusJson(meta->value_or(blacklist::ListMeta{}), unixNow(),
                                   graceSeconds(config_));
    j["feed_set"] = !config_.list.feed_url.empty();
    auto sync = sync_.state();
    j["last_sync_attempt"] =
        sync.lastAttemptAt ? nlohmann::json(sync.lastAttemptAt) : nlohmann::json(nullptr);
    j["last_sync_error"] =
        sync.lastError.empty() ? nlohmann::json(nullptr) : nlohmann::json(sync.lastError);
    return j;
}

Expected<nlohmann::json, Error> StatusReport::readers() {
    auto list = desk_.listReaders();
    if (!list) return unexpected(list.error());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *list) {
        auto j = readerJson(r);
        if (desk_.isSamSlot(r.name)) j["sam_slot"] = true;
        arr.push_back(std::move(j));
    }
    return arr;
}

nlohmann::json StatusReport::status() {
    auto readerList = readers();
    nlohmann::json j{
        {"version", SSCARD_VERSION},
        {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now() - started_)
                         .count()},
        {"readers", readerList ? *readerList : nlohmann::json::array()},
        {"list", list()},
        {"issuer_keys", keySourceName(config_.keys.source)},
        {"terminal_id", config_.backend.terminal_id.empty()
                            ? nlohmann::json(nullptr)
                            : nlohmann::json(config_.backend.terminal_id)},
    };
    if (sender_ != nullptr) {
        // The whole sender state: a technician sees why events are not leaving (last_error).
        j["outbox"] = outbox::toJson(sender_->status());
    } else if (outbox_ != nullptr) {
        auto n = outbox_->count();
        j["outbox"] = {{"queued", n ? nlohmann::json(*n) : nlohmann::json(nullptr)}};
    }
    if (outbox_ != nullptr) {
        // How the bounds hold: a polling client cannot grow the disk or the memory unseen.
        auto bound = outbox_->boundStats();
        auto& o = j["outbox"];
        o["backend_set"] = !config_.backend.url.empty();
        o["max_events"] = bound.max_events;
        o["dropped_checks"] = bound.dropped;
        o["over_bound"] = bound.over_bound;
    }
    if (events_ != nullptr) {
        auto writer = events_->stats();
        j["outbox"]["writer_queued"] = writer.queued;
        j["outbox"]["writer_dropped"] = writer.dropped;
    }
    return j;
}

}  // namespace sscard::daemon
