// The local list: one SQLite database (WAL, synchronous=NORMAL, busy_timeout).
//
//   meta(id=1, version, expires, feed_time, fetched, checked, count, digest, key_ids, etag)
//   by_id(hi, lo, region, number, state, eff, exp, repl)      PRIMARY KEY(hi, lo)      WITHOUT
//   ROWID by_number(region, number, state, eff, exp, repl)          PRIMARY KEY(region, number)
//   WITHOUT ROWID
// (keys: see entry.hpp). Every update — snapshot or delta — runs in ONE transaction together with
// the new version in meta, so a killed process leaves the previous version whole, and a version
// lower than or equal to the stored one is refused inside that transaction.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "base/sqlite.hpp"
#include "blacklist/codec.hpp"
#include "blacklist/decision.hpp"
#include "blacklist/entry.hpp"

namespace sscard::blacklist {

// What a new version brings besides its rows.
struct VersionInfo {
    std::int64_t version = 0;
    std::int64_t expires = 0;
    std::int64_t feed_time = 0;
    std::int64_t now = 0;
    std::uint64_t count = 0;  // expected entries after applying
    std::string digest;
    std::vector<std::string> key_ids;
    std::string etag;
};

class Store {
  public:
    // Creates the database (and its schema) if missing. list_unavailable on failure.
    static Expected<Store, Error> open(const std::filesystem::path& path, bool read_only = false);
    Store(Store&&) noexcept;
    Store& operator=(Store&&) noexcept;
    ~Store();

    // Entries matching a card: the card_id entry first, then the region+number entry.
    Expected<std::vector<Entry>, Error> lookup(const CardFacts& card);
    Expected<std::optional<Entry>, Error> lookupCardId(std::string_view card_id);
    Expected<std::optional<Entry>, Error> lookupNumber(std::string_view region,
                                                       std::string_view card_number);
    // Whether the list holds an entry known only by region + card number in this region: such an
    // entry could be a card whose number cannot be read (docs/feed.md#decision-rules).
    Expected<bool, Error> hasNumberOnlyEntries(std::string_view region);
    // Raw key lookups (benchmarks).
    Expected<bool, Error> containsId(IdKey k);

    Expected<ListMeta, Error> status();

    // Whole new content from a snapshot file / bytes (verified before by the caller).
    Expected<void, Error> applySnapshotFile(const std::filesystem::path& file,
                                            const VersionInfo& info);
    Expected<void, Error> applySnapshot(ByteView file, const VersionInfo& info);
    Expected<void, Error> applyRecords(const std::vector<Record>& sorted, const VersionInfo& info);
    // A delta against the stored version: fails (nothing changes) unless its base is the stored
    // version and every removal/upsert applies exactly and the final count is info.count.
    Expected<void, Error> applyDeltaFile(const std::filesystem::path& file,
                                         const VersionInfo& info);
    Expected<void, Error> applyDelta(ByteView file, const VersionInfo& info);

    // Records a verified check that found the list current (the same version): the check time and
    // ETag, and the top file's expiry and issue time where they are later than the stored ones.
    Expected<void, Error> touch(std::int64_t now, const std::string& etag, std::int64_t expires = 0,
                                std::int64_t feed_time = 0);

    // Memory-maps up to `bytes` of the database for reads (0, the default, turns it off). Faster
    // lookups (10 M entries: p99 ~20 -> ~11 us on the 2-core test machine) at the price of a
    // resident size that grows with the pages touched, and I/O errors arriving as SIGBUS.
    Expected<void, Error> setMmapSize(std::int64_t bytes);

    // Rows actually stored (a full scan: diagnostics and tests, not the hot path).
    Expected<std::int64_t, Error> countRows();

    // PRAGMA integrity_check: ok, or list_unavailable with SQLite's findings.
    Expected<void, Error> integrityCheck();

    sqlite3* handle() { return db_.handle(); }

  private:
    Store() = default;
    using Decoder = std::function<Expected<FileHeader, Error>(const DecodeSink&)>;
    Expected<void, Error> applyFile(const Decoder& run, const VersionInfo& info, bool delta);

    sqlite::Db db_;  // declared before the statements: they are finalized first
    struct Statements;
    std::unique_ptr<Statements> st_;
};

}  // namespace sscard::blacklist
