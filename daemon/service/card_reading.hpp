// `card.read`: the card's data, and with `holder` the holder's. On a 3rd-generation card that keeps
// the holder data behind the read key, a terminal with issuer keys ([keys]: a PSAM) authenticates
// first; without keys, the fields the card refuses are null and named in card.protected.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apdu/ssse/application.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/key_access.hpp"

namespace sscard::daemon {

class CardReading {
  public:
    CardReading(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
                KeyAccess& keys)
        : config_(config), desk_(desk), readStrategy_(readStrategy), keys_(keys) {}

    // The card read JSON (docs/api.md#cardread).
    Expected<nlohmann::json, Error> read(const std::optional<std::string>& reader, bool holder);

  private:
    const Config& config_;
    CardDesk& desk_;
    ssse::ReadStrategyCache& readStrategy_;
    KeyAccess& keys_;
};

// The keys a 3rd-generation holder read uses, from the service's key access; nullopt without keys.
std::optional<ssse::ReadKeys> readKeysFor(const Config& config, KeyAccess& keys);

}  // namespace sscard::daemon
