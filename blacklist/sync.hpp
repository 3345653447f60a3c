// One sync of the local list with the feed (libcurl). See feed.hpp for the files.
//
// 0. Plain http:// is refused (config) unless allow_insecure_http.
// 1. GET timestamp.json with If-None-Match (the stored ETag): 304 -> nothing is recorded (an
//    unverified 304 does not make the list look fresher). Size limit max_top_bytes.
// 2. Verify its signatures (at least `threshold` distinct trusted keys), its issue time (later than
//    the local clock plus max_clock_skew_s -> feed_rejected "clock skew"), its version (lower ->
//    feed_rejected "rollback"; equal -> nothing new, but a later expiry and issue time are
//    recorded with the check), its expiry (expired -> feed_rejected, list unchanged: it goes
//    stale).
// 3. GET the manifest it names, at most its signed length; check hash, signature, that its version
//    is the top file's (mix-and-match).
// 4. A delta from our version if offered, else the snapshot; each downloaded to a temp file next to
//    the database, never beyond its signed length, hash checked before use. A delta that fails
//    (download, hash, decoding, or applying) falls back to the snapshot.
// 5. Apply in one SQLite transaction with the new version.
// Timeouts: connect timeout, a minimum speed over a window (slow-retrieval defence), and a deadline
// for the whole sync (limits.sync_deadline), after which it fails with nothing applied.
// Credentials in feed_url (user:password@) appear in no error message (http::redactUrl).
#pragma once

#include <chrono>
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
    long total_timeout_s = 0;           // per request; 0: none
    // The whole sync, every request and the checks; 0: none. Past it: sync_failed, nothing applied.
    std::chrono::milliseconds sync_deadline{0};
};

struct SyncOptions {
    std::string feed_url;  // directory URL; a missing trailing '/' is added
    std::vector<std::filesystem::path> trusted_keys;
    std::filesystem::path database;
    std::string ca_file;
    bool allow_insecure_http = false;     // plain http:// feed_url (tests, labs)
    int threshold = 1;                    // distinct trusted keys that must sign each document
    std::int64_t max_clock_skew_s = 300;  // a top file issued later than now + this is refused
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

// Errors: sync_failed (network, HTTP, local I/O, the deadline), feed_rejected (verification:
// signatures below the threshold, hash, length, rollback, expired, issued in the future, mixed
// versions, malformed files), list_unavailable (the database), busy (another sync holds
// <database>.sync-lock), config (empty feed_url / trusted_keys, a threshold above the trusted keys,
// http:// without allow_insecure_http, unreadable key file).
Expected<SyncResult, Error> syncOnce(const SyncOptions& options);

}  // namespace sscard::blacklist
