#include "daemon/service/request_params.hpp"

#include <algorithm>

namespace sscard::daemon {

namespace {

Error usage(std::string message) {
    return makeError(ErrorCode::usage, std::move(message));
}

// A PIN parameter as a SecretPin.
Expected<ssse::SecretPin, Error> takePin(const nlohmann::json& params, const char* key) {
    if (!params.is_object() || !params.contains(key) || !params[key].is_string())
        return unexpected(usage(std::string("missing string parameter \"") + key + "\""));
    // The copy taken here is wiped by take(); the server wipes the request's own strings.
    std::string digits = params[key].get<std::string>();
    return ssse::SecretPin::take(digits);
}

Expected<void, Error> takePinInto(const nlohmann::json& params, const char* key,
                                  std::optional<ssse::SecretPin>& out) {
    auto pin = takePin(params, key);
    if (!pin) return unexpected(pin.error());
    out.emplace(std::move(*pin));
    return {};
}

// "pin_source": "host" (the default: the PIN is in the request) or "pinpad" (the holder types it
// on the reader and it never reaches this process).
Expected<PinSource, Error> pinSourceParam(const nlohmann::json& params) {
    if (!params.is_object() || !params.contains("pin_source")) return PinSource::host;
    const auto& v = params["pin_source"];
    if (v == "host") return PinSource::host;
    if (v == "pinpad") return PinSource::pinpad;
    return unexpected(usage("\"pin_source\" must be \"host\" or \"pinpad\""));
}

// card.activate's optional "old_card" (the card a replacement replaces, for the backend to link):
// null, or an object of card_id / region / card_number strings (what card.read gives).
Expected<nlohmann::json, Error> oldCardParam(const nlohmann::json& params) {
    if (!params.is_object() || !params.contains("old_card") || params["old_card"].is_null())
        return nlohmann::json(nullptr);
    const auto& old = params["old_card"];
    auto bad = [] {
        return unexpected(usage(
            "\"old_card\" must be an object with card_id, or region and card_number (strings of "
            "at most 64 characters)"));
    };
    if (!old.is_object()) return bad();
    nlohmann::json out = nlohmann::json::object();
    for (const char* key : {"card_id", "region", "card_number"}) {
        if (!old.contains(key)) continue;
        if (!old[key].is_string() || old[key].get_ref<const std::string&>().size() > 64)
            return bad();
        out[key] = old[key];
    }
    if (!out.contains("card_id") && !(out.contains("region") && out.contains("card_number")))
        return bad();
    return out;
}

}  // namespace

std::optional<std::string> readerParam(const nlohmann::json& params) {
    if (params.is_object() && params.contains("reader") && params["reader"].is_string())
        return params["reader"].get<std::string>();
    return std::nullopt;
}

Expected<HsmFinishRequest, Error> hsmFinishRequest(const nlohmann::json& params) {
    auto text = [&](const char* key) -> Expected<std::string, Error> {
        if (!params.is_object() || !params.contains(key) || !params[key].is_string())
            return unexpected(
                makeError(ErrorCode::usage, std::string("\"") + key + "\" must be a string"));
        return params[key].get<std::string>();
    };
    auto hexParam = [&](const char* key, std::size_t minimum,
                        std::size_t maximum) -> Expected<Bytes, Error> {
        auto t = text(key);
        if (!t) return unexpected(t.error());
        if (t->empty()) return Bytes{};  // a 1st/2nd-generation card: nothing to compare
        auto bytes = fromHex(*t);
        if (!bytes || bytes->size() < minimum || bytes->size() > maximum) {
            return unexpected(makeError(ErrorCode::usage, std::string("\"") + key + "\" must be " +
                                                              std::to_string(minimum * 2) + " to " +
                                                              std::to_string(maximum * 2) +
                                                              " hex digits"));
        }
        return std::move(*bytes);
    };
    HsmFinishRequest r;
    auto session = text("session");
    if (!session) return unexpected(session.error());
    r.session = *session;
    // The reference layout gives the internal result as 16 bytes, of which 8 are compared.
    auto internal = hexParam("internal_result", 8, 16);
    if (!internal) return unexpected(internal.error());
    r.internalResult = std::move(*internal);
    auto external = hexParam("external_cryptogram", 16, 16);
    if (!external) return unexpected(external.error());
    r.externalCryptogram = std::move(*external);
    return r;
}

Expected<VerifyRequest, Error> verifyRequest(const nlohmann::json& params) {
    VerifyRequest r;
    r.reader = readerParam(params);
    auto source = pinSourceParam(params);
    if (!source) return unexpected(source.error());
    r.source = *source;
    if (r.source == PinSource::host) {
        if (auto taken = takePinInto(params, "pin", r.pin); !taken)
            return unexpected(taken.error());
    }
    return r;
}

Expected<ChangeRequest, Error> changeRequest(const nlohmann::json& params) {
    ChangeRequest r;
    r.reader = readerParam(params);
    auto source = pinSourceParam(params);
    if (!source) return unexpected(source.error());
    r.source = *source;
    if (r.source == PinSource::host) {
        if (auto taken = takePinInto(params, "old_pin", r.oldPin); !taken)
            return unexpected(taken.error());
        if (auto taken = takePinInto(params, "new_pin", r.newPin); !taken)
            return unexpected(taken.error());
    }
    return r;
}

Expected<ActivationRequest, Error> activationRequest(const nlohmann::json& params) {
    ActivationRequest r;
    r.reader = readerParam(params);
    r.resume = params.is_object() && params.value("resume", false);
    if (r.resume) {
        if (auto taken = takePinInto(params, "new_pin", r.newPin); !taken)
            return unexpected(taken.error());
    } else {
        auto source = pinSourceParam(params);
        if (!source) return unexpected(source.error());
        r.source = *source;
        if (r.source == PinSource::host) {
            if (auto taken = takePinInto(params, "initial_pin", r.initialPin); !taken)
                return unexpected(taken.error());
            if (auto taken = takePinInto(params, "new_pin", r.newPin); !taken)
                return unexpected(taken.error());
        }
    }
    auto oldCard = oldCardParam(params);
    if (!oldCard) return unexpected(oldCard.error());
    r.oldCard = std::move(*oldCard);
    return r;
}

Expected<IssuerRequest, Error> issuerRequest(const nlohmann::json& params, bool withNewPin) {
    IssuerRequest r;
    r.reader = readerParam(params);
    if (withNewPin) {
        if (auto taken = takePinInto(params, "new_pin", r.newPin); !taken)
            return unexpected(taken.error());
    }
    return r;
}

Expected<blacklist::CardFacts, Error> lookupFacts(const nlohmann::json& params) {
    blacklist::CardFacts facts;
    if (params.is_object() && params.contains("card_id") && params["card_id"].is_string()) {
        facts.card_id = params["card_id"].get<std::string>();
        facts.region = facts.card_id->substr(0, std::min<std::size_t>(6, facts.card_id->size()));
        return facts;
    }
    if (params.is_object() && params.contains("region") && params["region"].is_string() &&
        params.contains("card_number") && params["card_number"].is_string()) {
        facts.region = params["region"].get<std::string>();
        facts.card_number = params["card_number"].get<std::string>();
        return facts;
    }
    return unexpected(usage("give card_id, or region and card_number"));
}

}  // namespace sscard::daemon
