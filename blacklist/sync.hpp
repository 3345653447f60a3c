// One sync of the local list with the feed (libcurl). See feed.hpp for the files.
//
// 1. GET timestamp.json with If-None-Match (the stored ETag): 304 -> only the check time is
//    recorded. Size limit max_top_bytes.
// 2. Verify its signature (a trusted key), its version (lower -> feed_rejected "rollback"; equal ->
//    nothing new), its expiry (expired -> feed_rejected, list unchanged: the list goes stale).
// 3. GET the manifest it names, at most its signed length; check hash, signature, that its version
//    is the top file's (mix-and-match).
// 4. A delta from our version if offered, else the snapshot; each downloaded to a temp file next to
//    the database, never beyond its signed length, hash checked before use. A delta that fails
//    (download, hash, decoding, or applying) falls back to the snapshot.
// 5. Apply in one SQLite transaction with the new version.
// Timeouts: connect timeout, and a minimum speed over a window (slow-retrieval defence).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::blacklist {

struct SyncLimits {
    std::uint64_t max_top_bytes = 64 * 1024;
    std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
    std::uint64_t max_file_bytes = 2ULL * 1024 * 1024 * 1024;
    long connect_timeout_s = 10;
    long low_speed_bytes_per_s = 1024;  // abort when slower than this ...
    long low_speed_time_s = 30;         // ... for this long
    long total_timeout_s = 0;           // 0: none
};

struct SyncOptions {
    std::string feed_url;  // directory URL; a missing trailing '/' is added
    std::vector<std::filesystem::path> trusted_keys;
    std::filesystem::path database;
    std::string ca_file;
    SyncLimits limits;
    std::optional<std::int64_t> now;  // tests: override the clock (Unix seconds)
    // Called during big downloads: bytes so far, total (the signed length).
    std::function<void(std::uint64_t, std::uint64_t)> progress;
};

enum class SyncOutcome { not_modified, up_to_date, updated_delta, updated_snapshot };
std::string_view outcomeName(SyncOutcome o);

struct SyncResult {
    SyncOutcome outcome = SyncOutcome::up_to_date;
    std::int64_t version = 0;  // version held after the sync
    std::int64_t previous_version = 0;
    std::uint64_t entries = 0;
    std::uint64_t downloaded_bytes = 0;
    std::string note;  // e.g. why the delta was not used
};

// Errors: sync_failed (network, HTTP, local I/O), feed_rejected (verification: signature, hash,
// length, rollback, expired, mixed versions, malformed files), list_unavailable (the database),
// busy (another sync holds <database>.sync-lock), config (empty feed_url / trusted_keys, unreadable
// key file).
Expected<SyncResult, Error> syncOnce(const SyncOptions& options);

}  // namespace sscard::blacklist
