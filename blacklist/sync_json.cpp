#include "blacklist/sync_json.hpp"

namespace sscard::blacklist {

nlohmann::json toJson(const SyncResult& result) {
    return {{"version", result.version},
            {"previous_version", result.previous_version},
            {"outcome", outcomeName(result.outcome)},
            {"entries", result.entries},
            {"downloaded_bytes", result.downloaded_bytes}};
}

std::optional<SyncResult> syncResultFromJson(const nlohmann::json& document) {
    if (!document.is_object()) return std::nullopt;
    auto integer = [&](const char* key) {
        return document.contains(key) && document[key].is_number_integer();
    };
    auto count = [&](const char* key) {
        return document.contains(key) && document[key].is_number_unsigned();
    };
    if (!integer("version") || !integer("previous_version") || !count("entries") ||
        !count("downloaded_bytes") || !document.contains("outcome") ||
        !document["outcome"].is_string())
        return std::nullopt;
    SyncResult r;
    r.version = document["version"].get<std::int64_t>();
    r.previous_version = document["previous_version"].get<std::int64_t>();
    r.entries = document["entries"].get<std::uint64_t>();
    r.downloaded_bytes = document["downloaded_bytes"].get<std::uint64_t>();
    const auto& outcome = document["outcome"].get_ref<const std::string&>();
    for (auto o : {SyncOutcome::not_modified, SyncOutcome::up_to_date, SyncOutcome::updated_delta,
                   SyncOutcome::updated_snapshot}) {
        if (outcomeName(o) == outcome) {
            r.outcome = o;
            return r;
        }
    }
    return std::nullopt;
}

}  // namespace sscard::blacklist
