// A sync's result as JSON: what `sscardd sync --json` prints and what the service reads back from
// the sync process it runs. One shape in one place.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "blacklist/sync.hpp"

namespace sscard::blacklist {

// {"version", "previous_version", "outcome", "entries", "downloaded_bytes"}
nlohmann::json toJson(const SyncResult& result);

// The result of a document toJson() made; nullopt when a field is missing or of the wrong type.
std::optional<SyncResult> syncResultFromJson(const nlohmann::json& document);

}  // namespace sscard::blacklist
