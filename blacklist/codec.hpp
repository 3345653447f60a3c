// The binary snapshot and delta files of the feed.
//
//   header (38 bytes, little-endian): "SSCL" | format 1 (u8) | kind (u8: 1 snapshot, 2 delta) |
//     version (u64) | base version (u64, 0 for a snapshot) | removals (u64) | upserts (u64)
//   then one zlib stream holding the removals (keys only) followed by the upserts (whole records),
//   each section strictly sorted by key (entries with a card_id first).
//
// Records are gap-coded against the previous record of their section: a flags byte (state, kind,
// optional fields), the key as a varint gap (card_id: region gap, serial gap, 4 raw bytes of
// authentication code; number entries: region gap, number gap), then the fields: card number
// (zig-zag delta), effective_at (minutes as a zig-zag delta + a seconds byte), expires_at (as a
// varint duration after effective_at), replaced_by (zig-zag delta from the card number). zlib
// removes the remaining redundancy.
//
// A delta from version B to version V: every removed key, and every changed entry as a removal plus
// an upsert; a key removed must exist and a key upserted must not (after the removals), so applying
// it to anything but B fails instead of silently diverging.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "blacklist/entry.hpp"

namespace sscard::blacklist {

enum class FileKind : std::uint8_t { snapshot = 1, delta = 2 };

struct FileHeader {
    FileKind kind = FileKind::snapshot;
    std::int64_t version = 0;
    std::int64_t base_version = 0;
    std::uint64_t removals = 0;
    std::uint64_t upserts = 0;
};

inline constexpr std::size_t kHeaderSize = 38;
inline constexpr std::uint64_t kMaxRecords = 200'000'000;

Bytes encodeSnapshot(std::int64_t version, const std::vector<Record>& sorted, int level = 6);
Bytes encodeDelta(std::int64_t version, std::int64_t base_version,
                  const std::vector<Record>& removals, const std::vector<Record>& upserts,
                  int level = 6);

// old, cur sorted by key. Fills removals (keys gone or changed) and upserts (new or changed).
void diffRecords(const std::vector<Record>& old, const std::vector<Record>& cur,
                 std::vector<Record>& removals, std::vector<Record>& upserts);

// Streaming decoder. The callbacks may return an error to stop.
struct DecodeSink {
    std::function<Expected<void, Error>(const FileHeader&)> header;
    std::function<Expected<void, Error>(const Record&)> removal;  // only key fields are set
    std::function<Expected<void, Error>(const Record&)> upsert;
};
// Errors: feed_rejected for malformed data, sync_failed for I/O.
Expected<FileHeader, Error> decode(ByteView file, const DecodeSink& sink);
Expected<FileHeader, Error> decodeFile(const std::filesystem::path& path, const DecodeSink& sink);

// Convenience: whole snapshot into memory.
Expected<std::vector<Record>, Error> decodeSnapshot(ByteView file);
Expected<std::vector<Record>, Error> decodeSnapshotFile(const std::filesystem::path& path);

}  // namespace sscard::blacklist
