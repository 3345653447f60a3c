// The holder's PIN flows on a card: verify, change, and activation of a new or replacement card
// (with its resume after an "unknown" outcome). Each runs in one PC/SC transaction on a reader held
// for it (CardDesk), counts against the per-reader attempt limit, and stores its backend event.
//
// Rules every flow keeps:
//   - a new PIN chosen on the host passes the policy ([pin], pin_policy.hpp, with the holder's
//     birth date where EF06 is readable) before anything is sent to the card, so a weak PIN costs
//     no try on the card; where the policy uses the holder's data, a refusal counts against the
//     per-reader attempt limit and names the rule only to callers with the personal-data right, so
//     that trying PINs is no cheap way to learn a birth date;
//   - activation refuses a card the list denies (card_denied, audited) before any PIN command;
//   - a flow that may change the PIN says where it stands when it fails (Error::pin_state):
//     "unchanged" unless the PIN-changing command itself was under way ("unknown");
//   - PINs are SecretPins (wiped); on a PIN pad they never reach this process.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apdu/ssse/application.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/outbox/unknown_activations.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"
#include "daemon/service/flow_steps.hpp"
#include "daemon/service/pin_attempts.hpp"

namespace sscard::daemon {

struct VerifyRequest {
    std::optional<std::string> reader;
    PinSource source = PinSource::host;
    std::optional<ssse::SecretPin> pin;  // host only
};
struct VerifyOutcome {
    bool ok = false;
    std::optional<int> triesLeft;
    bool pinpad = false;
};

struct ChangeRequest {
    std::optional<std::string> reader;
    PinSource source = PinSource::host;
    std::optional<ssse::SecretPin> oldPin;  // host only
    std::optional<ssse::SecretPin> newPin;  // host only
};
struct ChangeOutcome {
    std::string eventId;  // "" when the event could not be stored (logged)
    bool pinpad = false;
};

struct ActivationRequest {
    std::optional<std::string> reader;
    PinSource source = PinSource::host;
    std::optional<ssse::SecretPin> initialPin;  // host only, not with resume
    std::optional<ssse::SecretPin> newPin;      // host only
    // The card a replacement replaces (card_id, or region and card_number), for the backend to
    // link; null when none.
    nlohmann::json oldCard;
    // After an activation ended "unknown": completes it if the card holds newPin. Only an
    // activation of this card recorded as "unknown" (within UnknownActivations' keep period), with
    // the same oldCard, may be resumed.
    bool resume = false;
    // The caller may receive the holder's personal data: a pin_weak names the rule it broke.
    bool personalData = false;
};
struct ActivationOutcome {
    ssse::CardInfo card;
    std::string eventId;
    bool resumed = false;
    bool pinpad = false;
};

class PinFlows {
  public:
    // `unknown`: where activations that ended "unknown" are kept for a resume (null: none is, so
    // no resume is allowed).
    PinFlows(const Config& config, CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
             ListAccess& list, EventRecorder& events, PinAttemptLimiter& attempts,
             outbox::UnknownActivations* unknown = nullptr)
        : config_(config),
          desk_(desk),
          readStrategy_(readStrategy),
          list_(list),
          events_(events),
          attempts_(attempts),
          unknown_(unknown) {}

    // A wrong PIN is ok = false with tries left, not an error; a blocked one is pin_blocked.
    Expected<VerifyOutcome, Error> verify(const VerifyRequest& request);
    Expected<ChangeOutcome, Error> change(const ChangeRequest& request);
    Expected<ActivationOutcome, Error> activate(const ActivationRequest& request);

  private:
    Expected<ActivationOutcome, Error> resumeActivation(const ActivationRequest& request);
    // The activation of `info` ended "unknown": kept so that a resume may complete it.
    void rememberUnknown(const ssse::CardInfo& info, const nlohmann::json& oldCard);
    // The old_card of the card's activation left "unknown"; not_allowed when there is none.
    Expected<nlohmann::json, Error> unknownActivationOf(const ssse::CardInfo& info);
    Expected<ActivationOutcome, Error> completeActivation(const apdu::CardConnection& card,
                                                          const ssse::CardInfo& info,
                                                          const nlohmann::json& oldCard,
                                                          bool resumed);

    const Config& config_;
    CardDesk& desk_;
    ssse::ReadStrategyCache& readStrategy_;
    ListAccess& list_;
    EventRecorder& events_;
    PinAttemptLimiter& attempts_;
    outbox::UnknownActivations* unknown_;
};

}  // namespace sscard::daemon
