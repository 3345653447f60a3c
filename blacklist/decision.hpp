// The decision for one card against the local list (docs/cli.md#decision-json; the rules:
// docs/feed.md#decision-rules).
//
// Rules, in order (the first that applies wins):
//  1. "now" is never earlier than the newest verified feed time (clock rollback defence).
//  2. A matching entry that denies: frozen, replaced, cancelled, or temp_frozen before its
//     expires_at; an entry whose effective_at is still in the future does not deny yet. A matching
//     entry denies even when the list is stale: a stale list that says "frozen" is still right.
//     With several matches (card_id entry, then region+number entry) the first that denies decides.
//  3. The card's own expiry date has passed (the card is valid through expires_on, in China
//     Standard Time, UTC+8) -> deny card_expired.
//  4. No list at all (never synced): stale_policy deny -> deny no_list; allow -> allow no_list.
//  5. The list is stale (now > list expires + grace): stale_policy deny -> deny list_stale; allow
//  ->
//     decide on the stale list (allow ok) with list.stale = true.
//  6. The card's number could not be read (a 3rd-generation card keeps it behind the read key) and
//     the list holds entries known only by region + card number in the card's region, one of which
//     could be this card: unreadable_number deny -> deny number_unreadable; allow -> allow
//     number_unreadable (flagged, never a silent ok).
//  7. allow ok.
// identified_by names what the list was searched with: "card_id+card_number", "card_id" (the
// number unreadable) or "card_number" (a card without an identifier).
// list.age_s is the time since the list was last confirmed current by a verified sync (a new
// version, the same version, or an HTTP 304 for the verified top file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "blacklist/entry.hpp"

namespace sscard::blacklist {

enum class StalePolicy { deny, allow };
enum class UnreadableNumberPolicy { deny, allow };

struct CardFacts {
    std::optional<std::string> card_id;     // 32 hex digits
    std::string region;                     // 6 digits
    std::string card_number;                // 9 characters; empty when unreadable
    std::optional<std::string> expires_on;  // "YYYY-MM-DD"
};

// What the list says about entries the card's readable fields cannot rule out (rule 6).
struct ListFacts {
    bool number_only_entries_in_region = false;
};

struct DecisionRules {
    std::int64_t grace_s = 0;
    StalePolicy stale = StalePolicy::deny;
    UnreadableNumberPolicy unreadable_number = UnreadableNumberPolicy::deny;
};

// What the store knows about its list (also the body of `list status`).
struct ListMeta {
    std::int64_t version = 0;    // 0: no list
    std::int64_t expires = 0;    // the accepted top file's expiry (Unix seconds)
    std::int64_t feed_time = 0;  // newest verified feed time (top file "issued")
    std::int64_t fetched = 0;    // when the current version was applied
    std::int64_t checked = 0;    // last time a sync confirmed the list current
    std::int64_t count = 0;
    std::string digest;                // sha256 of the snapshot file of this version
    std::vector<std::string> key_ids;  // keys that signed it
    std::string etag;
};

struct ListState {
    std::int64_t version = 0;
    std::int64_t age_s = 0;
    bool stale = false;
};

// now clamped to the feed time; staleness and age.
std::int64_t effectiveNow(const ListMeta& meta, std::int64_t now);
ListState listState(const ListMeta& meta, std::int64_t now, std::int64_t grace_s);

enum class Reason {
    ok,
    temp_frozen,
    frozen,
    replaced,
    cancelled,
    card_expired,
    list_stale,
    no_list,
    number_unreadable,
    card_not_genuine  // set by the terminal's chip check ([keys] authenticate_cards), not the list
};
std::string_view reasonName(Reason r);

struct Decision {
    bool allow = false;
    Reason reason = Reason::no_list;
    std::optional<Entry> entry;     // the entry that decided, or the first that matched
    std::optional<ListState> list;  // absent when there is no list
    std::string identified_by;      // "card_id+card_number", "card_id" or "card_number"
};

// True when this entry denies at `now` (rule 2).
bool entryDenies(const Entry& e, std::int64_t now);

Decision decide(const CardFacts& card, const std::vector<Entry>& matches,
                const std::optional<ListMeta>& meta, std::int64_t now, const DecisionRules& rules,
                const ListFacts& listFacts = {});
// Rules 1-5 and 7 only (no unreadable number).
Decision decide(const CardFacts& card, const std::vector<Entry>& matches,
                const std::optional<ListMeta>& meta, std::int64_t now, std::int64_t grace_s,
                StalePolicy policy);

// "card_id+card_number", "card_id" or "card_number": what identifies the card on the list.
std::string identifiedBy(const CardFacts& card);

nlohmann::json toJson(const Entry& e);
nlohmann::json toJson(const ListState& s);
// {"decision", "reason", "identified_by", "entry"?, "list"}: merge into the card JSON. Without a
// list, "list" is
// {"version": 0, "age_s": null, "stale": true}.
nlohmann::json toJson(const Decision& d);
// {"version", "entries", "expires", "feed_time", "fetched", "checked", "age_s", "stale",
//  "digest", "key_ids"}
nlohmann::json statusJson(const ListMeta& m, std::int64_t now, std::int64_t grace_s);

}  // namespace sscard::blacklist
