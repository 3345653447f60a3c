#include "daemon/service/issuer_flows.hpp"

#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/issuer.hpp"
#include "daemon/key_config.hpp"
#include "daemon/log.hpp"
#include "daemon/service/flow_steps.hpp"

namespace sscard::daemon {

Expected<IssuerOutcome, Error> IssuerFlows::reset(const IssuerRequest& request) {
    return withPinState(run(request, true));
}

Expected<IssuerOutcome, Error> IssuerFlows::unblock(const IssuerRequest& request) {
    return run(request, false);
}

// EXTERNAL AUTHENTICATE with the PUK key, then 84 24 with a MAC, keys from the PSAM (or a lab key
// file).
Expected<IssuerOutcome, Error> IssuerFlows::run(const IssuerRequest& request, bool reset) {
    const std::string method = reset ? "pin.reset" : "pin.unblock";
    if (auto keys = requireKeys(method); !keys) return unexpected(keys.error());
    return withApplication(
        desk_, readStrategy_, request.reader,
        [&](apdu::CardConnection& card, apdu::Transaction& tx,
            ssse::SsseApplication& app) -> Expected<IssuerOutcome, Error> {
            auto info = app.readCardInfo();
            if (!info) return unexpected(info.error());
            if (!info->card_id) {
                return unexpected(makeError(ErrorCode::card_error,
                                            "the card has no card id (EF05 tag 01): its keys "
                                            "cannot be derived"));
            }
            if (auto allowed = requireAllowed(
                    list_, config_, events_, *info, card.readerName(), method + "_refused",
                    std::string("this card's PIN may not be ") + (reset ? "reset" : "unblocked"));
                !allowed)
                return unexpected(allowed.error());
            // A failed authentication counts on the card too (its key may lock); a policy
            // refusal counts here like any other try.
            if (!attempts_.tryAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            if (reset) {
                if (auto weak = checkNewPinFor(config_, app, *info, *request.newPin, nullptr);
                    !weak)
                    return unexpected(weak.error());
            }
            auto cipher = ssse::readCardCipher(tx, *info->card_id);
            if (!cipher) return unexpected(cipher.error());
            auto keyContext = ssse::cardKeyContext(*cipher, *info->card_id, card.atr());
            if (!keyContext) return unexpected(keyContext.error());
            const ssse::IssuerKeyIds ids = issuerKeyIds(config_.keys);
            auto done = keys_.use([&](ssse::KeySource& keys) {
                return reset ? ssse::resetPin(tx, *request.newPin, keys, *keyContext, ids)
                             : ssse::unblockPin(tx, keys, *keyContext, ids);
            });
            if (!done) {
                events_.audit(method + "_failed", card.readerName(), &*info,
                              std::string(codeName(done.error().code)));
                return unexpected(done.error());
            }
            IssuerOutcome outcome;
            auto id = events_.pinEvent(reset ? "pin.reset" : "pin.unblocked", card.readerName(),
                                       *info, nullptr);
            if (!id) return unexpected(std::move(id).error());
            outcome.eventId = *id;
            logInfo(std::string(reset ? "PIN reset" : "PIN unblocked") + " on card " +
                    maskCardNumber(info->card_number.value_or("")) + " in " + card.readerName());
            return outcome;
        });
}

}  // namespace sscard::daemon
