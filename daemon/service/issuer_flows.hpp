// The issuer's operations at a staffed counter (admin role): PIN reset with a new PIN, and unblock
// (retry counter reset, PIN kept). Both authenticate to the card with the PUK key through the
// configured key source ([keys]: the PSAM in its reader, or a lab key file), refuse cards the list
// denies (a frozen or replaced card must not be made usable again here), and store their backend
// event.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "apdu/ssse/application.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/pin_attempts.hpp"
#include "daemon/service/sam_slot.hpp"

namespace sscard::daemon {

struct IssuerRequest {
    std::optional<std::string> reader;
    std::optional<ssse::SecretPin> newPin;  // reset only
};
struct IssuerOutcome {
    std::string eventId;  // "" when the event could not be stored (logged)
};

class IssuerFlows {
  public:
    // `samSlot`: the PSAM the service holds, with [keys] source = "psam" (must outlive this).
    IssuerFlows(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
                ListAccess& list, EventRecorder& events, PinAttemptLimiter& attempts,
                SamSlot* samSlot = nullptr)
        : config_(config),
          desk_(desk),
          readStrategy_(readStrategy),
          list_(list),
          events_(events),
          attempts_(attempts),
          samSlot_(samSlot) {}

    // With [keys] source = "file": loads the key file (refused unless allow_software_keys).
    Expected<void, Error> loadKeys();
    // not_allowed, naming [keys], when the terminal has no issuer keys; `method` names the call.
    Expected<void, Error> requireKeys(const std::string& method) const;

    Expected<IssuerOutcome, Error> reset(const IssuerRequest& request);
    Expected<IssuerOutcome, Error> unblock(const IssuerRequest& request);

  private:
    Expected<IssuerOutcome, Error> run(const IssuerRequest& request, bool reset);
    // Runs fn(KeySource&) with the configured keys: the key file, or the PSAM on the connection
    // the service holds (one transaction for the operation).
    template <class Fn>
    Expected<void, Error> withKeys(Fn&& fn);

    const Config& config_;
    CardDesk& desk_;
    ssse::ReadStrategyCache& readStrategy_;
    ListAccess& list_;
    EventRecorder& events_;
    PinAttemptLimiter& attempts_;
    SamSlot* samSlot_;
    std::unique_ptr<ssse::SoftwareKeySource> softwareKeys_;
};

}  // namespace sscard::daemon
