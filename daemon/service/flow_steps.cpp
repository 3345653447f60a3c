#include "daemon/service/flow_steps.hpp"

namespace sscard::daemon {

ssse::PinPolicy pinPolicyOf(const Config& config) {
    ssse::PinPolicy policy;
    policy.minLength = static_cast<std::size_t>(config.pin.min_length);
    policy.maxLength = static_cast<std::size_t>(config.pin.max_length);
    return policy;
}

apdu::PinEntryFormat pinEntryFormatOf(const ssse::PinPolicy& policy) {
    apdu::PinEntryFormat params;
    params.minDigits = policy.minLength;
    params.maxDigits = policy.maxLength;
    return params;
}

Expected<std::optional<apdu::PinpadFeatures>, Error> pinpadFor(PinSource source,
                                                               apdu::CardConnection& card,
                                                               bool modify) {
    if (source != PinSource::pinpad) return std::optional<apdu::PinpadFeatures>{};
    auto features = ssse::pinpadFeatures(card);
    if (!features) return unexpected(features.error());
    if (!*features || (modify && !(*features)->modifyPinDirect)) {
        return unexpected(
            makeError(ErrorCode::not_allowed,
                      card.readerName() + " has no PIN pad for " +
                          (modify ? "changing a PIN (PC/SC part 10 FEATURE_MODIFY_PIN_DIRECT)"
                                  : "entering a PIN (PC/SC part 10 FEATURE_VERIFY_PIN_DIRECT)")));
    }
    return *features;
}

Expected<void, Error> requireAllowed(ListAccess& list, const Config& config, EventRecorder& events,
                                     const ssse::CardInfo& card, const std::string& reader,
                                     const std::string& refusedKind, const std::string& refusal) {
    auto decision = list.decide(card, config);
    if (!decision) return unexpected(decision.error());
    if (decision->allow) return {};
    events.audit(refusedKind, reader, &card, "card_denied");
    return unexpected(
        makeError(ErrorCode::card_denied,
                  refusal + ": " + std::string(blacklist::reasonName(decision->reason))));
}

Expected<void, Error> checkNewPinFor(const Config& config, ssse::SsseApplication& app,
                                     const ssse::CardInfo& info, const ssse::SecretPin& newPin,
                                     const ssse::SecretPin* initial) {
    ssse::PinPolicyContext context{initial, std::nullopt};
    if (info.generation < 3) {  // 3rd-generation EF06 needs the issuer's read key
        if (auto holder = app.readHolder(info.generation)) context.birthDate = holder->birth_date;
    }
    return ssse::checkNewPin(pinPolicyOf(config), newPin, context);
}

Error withoutPolicyRule(const Error& weak) {
    Error e = weak;
    e.message =
        "the new PIN does not meet the PIN policy (length; not an initial PIN, one repeated digit, "
        "a run of digits or the holder's birth date)";
    return e;
}

Error tooManyAttempts(const std::string& reader) {
    return makeError(ErrorCode::busy, "too many PIN attempts at " + reader +
                                          " in the last minute; wait before trying again");
}

}  // namespace sscard::daemon
