// Activations that ended with pin_state "unknown" (the card left while CHANGE PIN was under way),
// so that card.activate {resume} completes only those: without this record, anyone knowing a card's
// PIN could "resume" an activation that never happened and forge a card.activated event with any
// old_card.
//
// One row per card (the key names the card: its card_id, else region and card number), with the
// old_card the activation carried (JSON text, "" for none) and when it ended. A row older than
// `keep` (default 7 days) no longer counts and is deleted on the next record(); a completed
// activation of the card deletes its row. Stored in SQLite, in the outbox's file (its own table),
// synchronous=FULL: a row reported stored survives a power loss. Thread safety: any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "daemon/outbox/outbox.hpp"

namespace sscard::outbox {

struct UnknownActivation {
    std::string card;      // the key, as recorded
    std::string old_card;  // JSON text of the activation's old_card; "" when it had none
    TimePoint at{};
};

class UnknownActivations {
  public:
    static constexpr std::chrono::hours kDefaultKeep{24 * 7};

    static Expected<std::unique_ptr<UnknownActivations>, Error> open(
        const std::filesystem::path& path, std::chrono::milliseconds keep = kDefaultKeep);
    ~UnknownActivations();
    UnknownActivations(const UnknownActivations&) = delete;
    UnknownActivations& operator=(const UnknownActivations&) = delete;

    // Records (or replaces) the card's unknown activation; drops rows older than `keep`.
    Expected<void, Error> record(const UnknownActivation& activation);
    // The card's unknown activation if one ended within `keep` before `at`.
    Expected<std::optional<UnknownActivation>, Error> find(const std::string& card, TimePoint at);
    // The card's activation is complete (or started over successfully).
    Expected<void, Error> forget(const std::string& card);

  private:
    struct Impl;
    explicit UnknownActivations(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sscard::outbox
