// Deciding whether a card may be used: the card's EF05 facts against the local list, with the
// configured grace and stale policy. Shared by `sscardd diag check` and the daemon's card.check.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "apdu/ssse/card_data.hpp"
#include "blacklist/decision.hpp"
#include "blacklist/store.hpp"
#include "config/config.hpp"

namespace sscard::daemon {

blacklist::StalePolicy stalePolicyOf(const Config& config);
std::int64_t graceSeconds(const Config& config);
std::int64_t unixNow();
blacklist::DecisionRules decisionRules(const Config& config);

blacklist::CardFacts cardFacts(const ssse::CardInfo& card);

// The local list, opened lazily (a terminal that has never synced has no database yet) and shared
// by threads. A missing database is "no list", not an error.
class ListAccess {
  public:
    explicit ListAccess(std::filesystem::path database) : database_(std::move(database)) {}

    // The decision for a card now; list_unavailable when the database exists but cannot be read.
    Expected<blacklist::Decision, Error> decide(const ssse::CardInfo& card, const Config& config);

    // Entries for one card (list lookup).
    Expected<std::vector<blacklist::Entry>, Error> lookup(const blacklist::CardFacts& facts);

    // Whether entries known only by region + number exist in this region.
    Expected<bool, Error> hasNumberOnlyEntries(const std::string& region);

    // The list's meta data; nullopt when there is no list.
    Expected<std::optional<blacklist::ListMeta>, Error> meta();

    // Forget the open connection, e.g. after a sync replaced the content (WAL readers see new
    // commits anyway; this only matters if the file was recreated).
    void reset();

  private:
    Expected<blacklist::Store*, Error> store();  // nullptr when there is no database file
    std::filesystem::path database_;
    std::mutex mutex_;
    std::optional<blacklist::Store> store_;
};

// The card JSON plus the decision fields of the contract (docs/cli.md#decision-json).
nlohmann::json decisionJson(const nlohmann::json& cardReadJson, const blacklist::Decision& d);

}  // namespace sscard::daemon
