#include "daemon/service/issuer_flows.hpp"

#include "apdu/ssse/card_keys.hpp"
#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/psam.hpp"
#include "daemon/log.hpp"
#include "daemon/service/flow_steps.hpp"

namespace sscard::daemon {

Expected<void, Error> IssuerFlows::loadKeys() {
    if (config_.keys.source != KeySourceKind::file) return {};
    ssse::SoftwareKeyOptions options;
    options.enabled = config_.keys.allow_software_keys;
    options.warn = [](std::string_view w) { logWarn(std::string(w)); };
    auto keys = ssse::SoftwareKeySource::load(config_.keys.file, options);
    if (!keys) return unexpected(keys.error());
    softwareKeys_ = std::move(*keys);
    return {};
}

Expected<void, Error> IssuerFlows::requireKeys(const std::string& method) const {
    if (config_.keys.source != KeySourceKind::none) return {};
    return unexpected(makeError(
        ErrorCode::not_allowed,
        method + " needs the issuer's keys, and this terminal has none: set [keys] source = "
                 "\"psam\" and psam_reader (the SAM slot) in the configuration"));
}

template <class Fn>
Expected<void, Error> IssuerFlows::withKeys(Fn&& fn) {
    if (softwareKeys_) return fn(*softwareKeys_);
    const std::string& reader = config_.keys.psam_reader;
    auto psam = desk_.holdReader(reader, "the PSAM ([keys] psam_reader \"" + reader + "\")");
    if (!psam) return unexpected(psam.error());
    ssse::PsamOptions options;
    options.aid = fromHex(config_.keys.psam_aid).value_or(options.aid);
    options.levels = config_.keys.psam_levels;
    options.keys[ssse::KeyPurpose::puk] = {static_cast<std::uint8_t>(config_.keys.psam_puk_usage),
                                           static_cast<std::uint8_t>(config_.keys.psam_puk_key)};
    ssse::PsamKeySource keys(psam->card(), options);
    return fn(keys);
}

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
            if (reset) {
                if (auto weak = checkNewPinFor(config_, app, *info, *request.newPin, nullptr);
                    !weak)
                    return unexpected(weak.error());
            }
            // A failed authentication counts on the card too (its key may lock).
            if (!attempts_.tryAttempt(card.readerName()))
                return unexpected(tooManyAttempts(card.readerName()));
            auto cipher = ssse::readCardCipher(tx, *info->card_id);
            if (!cipher) return unexpected(cipher.error());
            auto keyContext = ssse::cardKeyContext(*cipher, *info->card_id, card.atr());
            if (!keyContext) return unexpected(keyContext.error());
            ssse::IssuerKeyIds ids{static_cast<std::uint8_t>(config_.keys.card_puk_id)};
            auto done = withKeys([&](ssse::KeySource& keys) {
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
