// Reading a card and deciding whether it may be used: `card.check`, and the automatic check of
// every inserted card. Each decision is logged (card number masked), audited and queued for the
// backend as card.checked.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apdu/ssse/application.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/key_access.hpp"

namespace sscard::daemon {

class CardChecker {
  public:
    CardChecker(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
                ListAccess& list, EventRecorder& events, KeyAccess& keys)
        : config_(config),
          desk_(desk),
          readStrategy_(readStrategy),
          list_(list),
          events_(events),
          keys_(keys) {}

    // The decision JSON (card, decision, reason, entry, list) plus the extension `timing`
    // (read_ms, decide_ms, apdus). `origin` ("automatic", "requested") goes into the log line.
    // With [keys] authenticate_cards, a 3rd-generation chip that fails internal authentication is
    // denied with reason card_not_genuine, whatever the list says.
    Expected<nlohmann::json, Error> check(const std::optional<std::string>& reader,
                                          const std::string& origin);

  private:
    const Config& config_;
    CardDesk& desk_;
    ssse::ReadStrategyCache& readStrategy_;
    ListAccess& list_;
    EventRecorder& events_;
    KeyAccess& keys_;
};

}  // namespace sscard::daemon
