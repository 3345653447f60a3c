#include "daemon/service/pin_flows.hpp"

#include "daemon/log.hpp"

namespace sscard::daemon {

namespace {

// Names a card in the record of unknown activations.
std::string activationKey(const ssse::CardInfo& info) {
    if (info.card_id) return "id:" + *info.card_id;
    return "number:" + info.region.value_or("") + "/" + info.card_number.value_or("");
}

}  // namespace

void PinFlows::rememberUnknown(const ssse::CardInfo& info, const nlohmann::json& oldCard) {
    if (unknown_ == nullptr) return;
    outbox::UnknownActivation row{
        activationKey(info), oldCard.is_object() ? oldCard.dump() : std::string(), outbox::now()};
    if (auto stored = unknown_->record(row); !stored) {
        logError("the activation of card " + maskCardNumber(info.card_number.value_or("")) +
                 " ended unknown, but could not be recorded; it cannot be resumed: " +
                 errorText(stored.error()));
    }
}

Expected<nlohmann::json, Error> PinFlows::unknownActivationOf(const ssse::CardInfo& info) {
    std::optional<outbox::UnknownActivation> found;
    if (unknown_ != nullptr) {
        auto looked = unknown_->find(activationKey(info), outbox::now());
        if (!looked) return unexpected(looked.error());
        found = std::move(*looked);
    }
    if (!found) {
        return unexpected(makeError(
            ErrorCode::not_allowed,
            "no activation of this card ended with pin_state \"unknown\" in the last " +
                std::to_string(std::chrono::duration_cast<std::chrono::days>(
                                   outbox::UnknownActivations::kDefaultKeep)
                                   .count()) +
                " days: resume completes only such an activation; activate with initial_pin"));
    }
    if (found->old_card.empty()) return nlohmann::json();
    auto parsed = nlohmann::json::parse(found->old_card, nullptr, false);
    if (parsed.is_discarded())
        return unexpected(makeError(ErrorCode::internal, "a recorded old_card is not JSON"));
    return parsed;
}

Expected<VerifyOutcome, Error> PinFlows::verify(const VerifyRequest& request) {
    return withApplication(desk_, readStrategy_, request.reader,
                           [&](apdu::CardConnection& card, apdu::Transaction& tx,
                               ssse::SsseApplication&) -> Expected<VerifyOutcome, Error> {
                               auto pinpad = pinpadFor(request.source, card, false);
                               if (!pinpad) return unexpected(pinpad.error());
                               const std::optional<apdu::PinpadFeatures>& pad = *pinpad;
                               if (!attempts_.tryAttempt(card.readerName()))
                                   return unexpected(tooManyAttempts(card.readerName()));
                               auto verified =
                                   pad ? ssse::verifyPinOnPinpad(
                                             tx, *pad, pinEntryFormatOf(pinPolicyOf(config_)))
                                       : ssse::verifyPin(tx, *request.pin);
                               VerifyOutcome outcome;
                               outcome.pinpad = pad.has_value();
                               if (!verified) {
                                   Error e = std::move(verified).error();
                                   if (e.code != ErrorCode::pin_wrong)
                                       return unexpected(std::move(e));
                                   outcome.triesLeft = e.tries_left;
                                   return outcome;
                               }
                               auto left = ssse::pinTriesLeft(tx);
                               outcome.ok = true;
                               if (left && *left) outcome.triesLeft = **left;
                               return outcome;
                           });
}

// From the host, the new PIN must pass the policy before the card is touched. On a PIN pad the
// PINs never reach this process, so the policy cannot be applied: the reader enforces only the
// length.
Expected<ChangeOutcome, Error> PinFlows::change(const ChangeRequest& request) {
    ssse::PinPolicy policy = pinPolicyOf(config_);
    if (request.source == PinSource::host) {
        if (auto weak = ssse::checkNewPin(policy, *request.newPin, {}); !weak)
            return withPinState<ChangeOutcome>(unexpected(weak.error()));
    }
    return withPinState(withApplication(
        desk_, readStrategy_, request.reader,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<ChangeOutcome, Error> {
            auto pinpad = pinpadFor(request.source, card, true);
            if (!pinpad) return unexpected(pinpad.error());
            const std::optional<apdu::PinpadFeatures>& pad = *pinpad;
            if (!attempts_.tryAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            auto changed = pad ? ssse::changePinOnPinpad(tx, *pad, pinEntryFormatOf(policy))
                               : ssse::changePin(tx, *request.oldPin, *request.newPin);
            if (!changed) return unexpected(changed.error());
            ChangeOutcome outcome;
            outcome.pinpad = pad.has_value();
            auto id = events_.pinEvent("pin.changed", card.readerName(), *info, nullptr);
            if (!id) return unexpected(std::move(id).error());
            outcome.eventId = *id;
            logInfo("PIN changed on card " + maskCardNumber(info->card_number.value_or("")) +
                    " in " + card.readerName());
            return outcome;
        }));
}

// Activation of a new or replacement card: the list must allow it, the holder's new PIN must pass
// the policy, the initial PIN must verify, then CHANGE PIN, then the card.activated event goes to
// the outbox. On a PIN pad the holder types the initial PIN and the new one (twice) on the reader,
// which sends CHANGE PIN itself: the card checks the initial PIN, and the policy beyond the length
// cannot be applied.
Expected<ActivationOutcome, Error> PinFlows::activate(const ActivationRequest& request) {
    if (request.resume) return withPinState(resumeActivation(request));
    return withPinState(withApplication(
        desk_, readStrategy_, request.reader,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<ActivationOutcome, Error> {
            auto pinpad = pinpadFor(request.source, card, true);
            if (!pinpad) return unexpected(pinpad.error());
            const std::optional<apdu::PinpadFeatures>& pad = *pinpad;
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (request.oldCard.is_object() &&
                request.oldCard.value("card_id", "") == info->card_id) {
                return unexpected(
                    makeError(ErrorCode::usage,
                              "old_card is this very card: insert the new card to activate"));
            }
            if (auto allowed =
                    requireAllowed(list_, config_, events_, *info, card.readerName(),
                                   "card.activate_refused", "this card may not be activated");
                !allowed)
                return unexpected(allowed.error());
            // Counted before the policy: a refusal naming the birth date would otherwise be a
            // free, unlimited way to find it. A refused card or a weak PIN still never reaches
            // the card's retry counter.
            if (!attempts_.tryAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            if (!pad) {
                if (auto weak =
                        checkNewPinFor(config_, app, *info, *request.newPin, &*request.initialPin);
                    !weak)
                    return unexpected(request.personalData ? weak.error()
                                                           : withoutPolicyRule(weak.error()));
            }
            if (!pad) {
                if (auto verified = ssse::verifyPin(tx, *request.initialPin); !verified) {
                    events_.audit("card.activate_failed", card.readerName(), &*info,
                                  std::string(codeName(verified.error().code)));
                    return unexpected(verified.error());
                }
            }
            auto changed =
                pad ? ssse::changePinOnPinpad(tx, *pad, pinEntryFormatOf(pinPolicyOf(config_)))
                    : ssse::changePin(tx, *request.initialPin, *request.newPin);
            if (!changed) {
                events_.audit("card.activate_failed", card.readerName(), &*info,
                              std::string(codeName(changed.error().code)));
                if (changed.error().pin_state == "unknown") rememberUnknown(*info, request.oldCard);
                return unexpected(changed.error());
            }
            auto outcome = completeActivation(card, *info, request.oldCard, false);
            if (outcome) outcome->pinpad = pad.has_value();
            return outcome;
        }));
}

// After an activation ended with pin_state "unknown" (the card left during CHANGE PIN), the kiosk
// asks for the card again and calls card.activate with resume: true and the holder's new PIN. If
// the card takes that PIN, the change did happen: the activation is complete and its event is
// queued (marked "resumed"). If not, pin_wrong: the PIN is still the initial one, start again.
Expected<ActivationOutcome, Error> PinFlows::resumeActivation(const ActivationRequest& request) {
    return withApplication(
        desk_, readStrategy_, request.reader,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<ActivationOutcome, Error> {
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (auto allowed =
                    requireAllowed(list_, config_, events_, *info, card.readerName(),
                                   "card.activate_refused", "this card may not be activated");
                !allowed)
                return unexpected(allowed.error());
            auto recordedOldCard = unknownActivationOf(*info);
            if (!recordedOldCard) {
                events_.audit("card.activate_refused", card.readerName(), &*info,
                              std::string(codeName(recordedOldCard.error().code)));
                return unexpected(recordedOldCard.error());
            }
            if (request.oldCard != *recordedOldCard) {
                return unexpected(
                    makeError(ErrorCode::usage,
                              "old_card differs from the one of the activation being "
                              "resumed: give the same old_card, or none if it had none"));
            }
            if (!attempts_.tryAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            if (auto verified = ssse::verifyPin(tx, *request.newPin); !verified)
                return unexpected(verified.error());
            return completeActivation(card, *info, *recordedOldCard, true);
        });
}

Expected<ActivationOutcome, Error> PinFlows::completeActivation(const apdu::CardConnection& card,
                                                                const ssse::CardInfo& info,
                                                                const nlohmann::json& oldCard,
                                                                bool resumed) {
    nlohmann::json extra = nlohmann::json::object();
    if (resumed) extra["resumed"] = true;
    if (oldCard.is_object()) extra["old_card"] = oldCard;
    auto id = events_.backendEvent("card.activated", card.readerName(), info, std::move(extra),
                                   resumed ? "resumed" : "");
    if (!id) {
        // The card's PIN is already the new one: say so, the event is the part that failed.
        Error e = makeError(ErrorCode::internal,
                            "the card's PIN was changed, but the activation event could not be "
                            "stored: " +
                                id.error().message);
        e.pin_state = "changed";
        return unexpected(std::move(e));
    }
    if (unknown_ != nullptr) {
        if (auto forgotten = unknown_->forget(activationKey(info)); !forgotten)
            logWarn("activation complete, but its unknown record stays: " +
                    errorText(forgotten.error()));
    }
    logInfo("card " + maskCardNumber(info.card_number.value_or("")) + " activated " +
            (resumed ? "(resumed) " : "") + "in " + card.readerName());
    ActivationOutcome outcome;
    outcome.card = info;
    outcome.eventId = *id;
    outcome.resumed = resumed;
    return outcome;
}

}  // namespace sscard::daemon
