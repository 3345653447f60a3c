#include "daemon/service/api_bindings.hpp"

#include "blacklist/sync_json.hpp"
#include "daemon/card_json.hpp"
#include "daemon/service/request_params.hpp"

namespace sscard::daemon {

namespace {

template <class T>
void answer(const api::Reply& reply, const Expected<T, Error>& result) {
    if (!result)
        reply(result.error());
    else
        reply(*result);
}

nlohmann::json verifyJson(const VerifyOutcome& o) {
    nlohmann::json j{{"ok", o.ok},
                     {"tries_left", o.triesLeft ? nlohmann::json(*o.triesLeft) : nullptr}};
    if (o.pinpad) j["pin_source"] = "pinpad";
    return j;
}

nlohmann::json changeJson(const ChangeOutcome& o) {
    nlohmann::json j{{"ok", true}, {"event_id", o.eventId}, {"pin_state", "changed"}};
    if (o.pinpad) j["pin_source"] = "pinpad";
    return j;
}

nlohmann::json activationJson(const ActivationOutcome& o) {
    nlohmann::json j{{"ok", true},
                     {"card", cardJson(o.card)},
                     {"event_id", o.eventId},
                     {"pin_state", "changed"}};
    if (o.resumed) j["resumed"] = true;
    if (o.pinpad) j["pin_source"] = "pinpad";
    return j;
}

nlohmann::json hsmStep1Json(const HsmStep1& s) {
    return {{"session", s.session},
            {"step1", s.interfaceString()},
            {"factors",
             {{"region", s.region},
              {"atr_hist", s.atrHist},
              {"algorithm", s.algorithm},
              {"card_id", s.cardId},
              {"internal_factor", s.internalFactor},
              {"internal_random", s.internalRandom},
              {"external_factor", s.externalFactor},
              {"external_random", s.externalRandom}}}};
}

// Parses the request with `parse`, runs `flow` on it and answers with `toJson` of the outcome.
template <class Parse, class Flow, class ToJson>
api::Handler flowHandler(Parse parse, Flow flow, ToJson toJson) {
    return [parse, flow, toJson](const api::Caller&, const nlohmann::json& params,
                                 const api::Reply& reply) {
        auto request = parse(params);
        if (!request) return (void)reply(request.error());
        auto outcome = flow(*request);
        if (!outcome) return (void)reply(outcome.error());
        reply(toJson(*outcome));
    };
}

}  // namespace

// GCC 12 at -O3 reports a false -Warray-bounds inside std::vector's reallocation while the methods
// are added (an "array of 0 pairs"; reserving room first does not help). Silenced for this function
// only, so that the Release build with warnings as errors builds.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
Expected<void, Error> bindApi(api::Server& server, ApiTargets t) {
    std::vector<std::pair<std::string, api::Handler>> methods;
    methods.emplace_back("status",
                         [&status = t.status](const api::Caller&, const nlohmann::json&,
                                              const api::Reply& reply) { reply(status.status()); });
    methods.emplace_back(
        "readers.list",
        [&status = t.status](const api::Caller&, const nlohmann::json&, const api::Reply& reply) {
            auto readers = status.readers();
            if (!readers) return (void)reply(readers.error());
            reply(nlohmann::json{{"readers", *readers}});
        });
    // Holder data only reaches callers the permission table lets have it (the server checks).
    methods.emplace_back(
        "card.read", [&reading = t.reading](const api::Caller&, const nlohmann::json& params,
                                            const api::Reply& reply) {
            if (params.is_object() && params.contains("holder") && !params["holder"].is_boolean())
                return (void)reply(makeError(ErrorCode::usage, "\"holder\" must be true or false"));
            bool holder =
                params.is_object() && params.contains("holder") && params["holder"].get<bool>();
            answer(reply, reading.read(readerParam(params), holder));
        });
    methods.emplace_back("card.hsm_begin",
                         [&hsm = t.hsm](const api::Caller& caller, const nlohmann::json& params,
                                        const api::Reply& reply) {
                             auto step1 = hsm.begin(caller.connection, readerParam(params));
                             if (!step1) return (void)reply(step1.error());
                             reply(hsmStep1Json(*step1));
                         });
    methods.emplace_back("card.hsm_finish",
                         [&hsm = t.hsm](const api::Caller& caller, const nlohmann::json& params,
                                        const api::Reply& reply) {
                             auto request = hsmFinishRequest(params);
                             if (!request) return (void)reply(request.error());
                             answer(reply, hsm.finish(caller.connection, *request));
                         });
    methods.emplace_back("card.check",
                         [&checker = t.checker](const api::Caller&, const nlohmann::json& params,
                                                const api::Reply& reply) {
                             answer(reply, checker.check(readerParam(params), "requested"));
                         });
    methods.emplace_back(
        "pin.verify",
        flowHandler(
            verifyRequest, [&pins = t.pins](const VerifyRequest& r) { return pins.verify(r); },
            verifyJson));
    methods.emplace_back(
        "pin.change",
        flowHandler([](const nlohmann::json& p) { return withPinState(changeRequest(p)); },
                    [&pins = t.pins](const ChangeRequest& r) { return pins.change(r); },
                    changeJson));
    // Whether a weak new PIN's refusal may name the rule depends on the caller's rights.
    methods.emplace_back("card.activate",
                         [&pins = t.pins](const api::Caller& caller, const nlohmann::json& params,
                                          const api::Reply& reply) {
                             auto request = withPinState(activationRequest(params));
                             if (!request) return (void)reply(request.error());
                             request->personalData = api::mayReceivePersonalData(caller);
                             auto outcome = pins.activate(*request);
                             if (!outcome) return (void)reply(outcome.error());
                             reply(activationJson(*outcome));
                         });
    auto issuerMethod = [&issuer = t.issuer](bool reset) {
        return [&issuer, reset](const api::Caller&, const nlohmann::json& params,
                                const api::Reply& reply) {
            const char* method = reset ? "pin.reset" : "pin.unblock";
            if (auto keys = issuer.requireKeys(method); !keys) {
                Error e = keys.error();
                if (reset) e.pin_state = "unchanged";
                return (void)reply(e);
            }
            auto request = issuerRequest(params, reset);
            if (!request) {
                Error e = request.error();
                if (reset) e.pin_state = "unchanged";
                return (void)reply(e);
            }
            auto outcome = reset ? issuer.reset(*request) : issuer.unblock(*request);
            if (!outcome) return (void)reply(outcome.error());
            nlohmann::json j{{"ok", true}, {"event_id", outcome->eventId}};
            if (reset) j["pin_state"] = "changed";
            reply(j);
        };
    };
    methods.emplace_back("pin.reset", issuerMethod(true));
    methods.emplace_back("pin.unblock", issuerMethod(false));
    methods.emplace_back("list.sync", [&sync = t.sync](const api::Caller&, const nlohmann::json&,
                                                       const api::Reply& reply) {
        auto result = sync.syncNow();
        if (!result) return (void)reply(result.error());
        auto j = blacklist::toJson(*result);
        j.erase("downloaded_bytes");
        reply(j);
    });
    methods.emplace_back("list.lookup", [&list = t.list, &status = t.status](
                                            const api::Caller&, const nlohmann::json& params,
                                            const api::Reply& reply) {
        auto facts = lookupFacts(params);
        if (!facts) return (void)reply(facts.error());
        auto entries = list.lookup(*facts);
        if (!entries) return (void)reply(entries.error());
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& e : *entries) arr.push_back(blacklist::toJson(e));
        reply(nlohmann::json{{"entries", arr}, {"list", status.list()}});
    });

    for (auto& [method, handler] : methods) {
        if (!server.registerMethod(method, std::move(handler))) {
            return unexpected(makeError(
                ErrorCode::internal,
                "the API cannot take a handler for " + method + " (not in the permission table?)"));
        }
    }
    return server.checkHandlers();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace sscard::daemon
