// Entries of the frozen-card list, their compact keys, and the CSV export they come from
// (docs/feed.md#list-input).
//
// Keys. 10 M rows must stay small and fast, so entries are keyed by integers, exactly (no hashes):
//
//  * card_id (卡识别码, 16 bytes) = region (3 BCD bytes) ‖ application id D156000005 (5 bytes) ‖
//  card
//    serial (4 bytes) ‖ authentication code (4 bytes). IdKey{hi, lo}: lo = serial ‖ auth (the last
//    8 bytes, as a 64-bit integer). hi = the region as a decimal number (0…999999, 3 bytes in
//    SQLite) when the first 8 bytes have the standard shape (BCD region + D156000005), which is
//    every card we know of. Any other card_id keeps its first 8 bytes as hi; the few such values
//    below 1 000 000 (a first 5 bytes of zeros) are swapped with the otherwise unused
//    standard-shaped value of that region, so the mapping stays a bijection: every 16-byte card_id
//    has exactly one key.
//  * region + card number: NumberKey{region 0…999999, number}: the 9 characters [0-9A-Z] read as a
//    base-36 number (< 36^9 ≈ 1.0e14, 6 bytes). The check character is kept (rows with a wrong one
//    stay exact). 6 + 9 characters do not fit one 64-bit integer, hence two columns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::blacklist {

enum class State : std::uint8_t { temp_frozen = 0, frozen = 1, replaced = 2, cancelled = 3 };

std::string_view stateName(State s);
std::optional<State> parseState(std::string_view text);

// The list entry as people read it.
struct Entry {
    std::string region;                  // 6 digits
    std::string card_number;             // 9 characters [A-Z0-9]
    std::optional<std::string> card_id;  // 32 upper-case hex digits
    State state = State::frozen;
    std::int64_t effective_at = 0;           // Unix seconds
    std::optional<std::int64_t> expires_at;  // Unix seconds; temp_frozen only
    std::optional<std::string> replaced_by;  // card number of the new card; replaced only
    bool operator==(const Entry&) const = default;
};

struct IdKey {
    std::int64_t hi = 0;
    std::int64_t lo = 0;
    auto operator<=>(const IdKey&) const = default;
};
struct NumberKey {
    std::int64_t region = 0;
    std::int64_t number = 0;
    auto operator<=>(const NumberKey&) const = default;
};

std::optional<IdKey> encodeCardId(std::string_view hex);            // nullopt unless 32 hex digits
std::string decodeCardId(IdKey key);                                // upper-case hex
std::optional<std::int64_t> encodeRegion(std::string_view region);  // 6 digits
std::string decodeRegion(std::int64_t region);
std::optional<std::int64_t> encodeCardNumber(std::string_view number);  // 9 chars [A-Z0-9]
std::string decodeCardNumber(std::int64_t number);
std::optional<NumberKey> encodeNumberKey(std::string_view region, std::string_view number);

// The compact form stored in SQLite and in feed files. Entries with a card_id sort before entries
// without; within each kind by key (signed 64-bit comparison, as SQLite orders INTEGER).
struct Record {
    bool has_id = false;
    IdKey id;  // valid when has_id
    std::int64_t region = 0;
    std::int64_t number = 0;
    State state = State::frozen;
    std::int64_t effective_at = 0;
    std::optional<std::int64_t> expires_at;
    std::optional<std::int64_t> replaced_by;  // encoded card number
    bool operator==(const Record&) const = default;
};

// Total order over keys (not values): the order of snapshot files and of the tables.
int compareKeys(const Record& a, const Record& b);
inline bool keyLess(const Record& a, const Record& b) {
    return compareKeys(a, b) < 0;
}

Record toRecord(const Entry& e);  // precondition: e is valid (as produced by the CSV import)
Entry toEntry(const Record& r);

// ISO 8601 date-time with an offset ("2026-11-20T10:00:00+08:00", "…Z"; fractional seconds are
// refused) -> Unix seconds.
std::optional<std::int64_t> parseTimestamp(std::string_view text);
// Unix seconds -> "2026-11-20T02:00:00Z".
std::string formatTimestamp(std::int64_t unix_seconds);

// CSV import. Every problem is reported with its 1-based line number; the import fails if there
// is any. Duplicates: the same card_id twice, or the same region+card_number twice among entries
// without card_id.
struct CsvProblem {
    std::size_t line = 0;
    std::string message;
};
struct CsvResult {
    std::vector<Record> records;  // sorted by key
    std::vector<CsvProblem> problems;
    bool ok() const { return problems.empty(); }
};
CsvResult parseCsv(std::string_view text, std::size_t max_problems = 100);
CsvResult readCsvFile(const std::string& path, std::size_t max_problems = 100);

}  // namespace sscard::blacklist
