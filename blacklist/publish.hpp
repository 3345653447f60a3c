// The central side: publishing a list export as the next feed version (sscard-feed publish).
//
// Writes, in this order, each file durably (temp file, fsync, rename, fsync of the directory):
// the snapshot, a cumulative delta from each of the last `history` versions (when smaller than the
// snapshot), the manifest, and the top file timestamp.json LAST — so a client never sees a top file
// naming files that are not there yet. Content-addressed files no longer named by the current or
// the previous manifest are removed afterwards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "blacklist/entry.hpp"
#include "blacklist/feed.hpp"

namespace sscard::blacklist {

struct PublishOptions {
    std::filesystem::path out_dir;
    std::vector<SigningKey> keys;
    std::int64_t expires_s = 24 * 3600;
    std::size_t history = 8;
    std::int64_t now = 0;      // 0: the clock
    std::int64_t version = 0;  // 0: previous + 1 (tests may force one)
};

struct PublishResult {
    std::int64_t version = 0;
    std::uint64_t count = 0;
    std::uint64_t snapshot_bytes = 0;
    std::vector<std::pair<std::int64_t, std::uint64_t>> deltas;  // from version, bytes
};

Expected<PublishResult, Error> publish(const std::vector<Record>& sorted,
                                       const PublishOptions& options);

// "90s", "15m", "24h", "7d", "1h30m" -> seconds.
std::optional<std::int64_t> parseDuration(std::string_view text);

// Durable write: temp + fsync + rename + fsync(dir). min_mtime > 0: the file's mtime is at least
// that (Unix seconds).
Expected<void, Error> writeFileAtomic(const std::filesystem::path& path, ByteView data,
                                      std::int64_t min_mtime = 0);

}  // namespace sscard::blacklist
