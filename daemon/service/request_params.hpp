// The parameters of API requests, checked and turned into the typed requests of the flows. A bad
// parameter is a usage error (JSON-RPC -32602 with data.code "usage"). PINs are taken out of the
// JSON into SecretPins (the server wipes the request's strings after the call).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "blacklist/decision.hpp"
#include "daemon/service/hsm_reads.hpp"
#include "daemon/service/issuer_flows.hpp"
#include "daemon/service/pin_flows.hpp"

namespace sscard::daemon {

// The optional "reader" (a string; anything else is ignored, as before).
std::optional<std::string> readerParam(const nlohmann::json& params);

Expected<VerifyRequest, Error> verifyRequest(const nlohmann::json& params);
Expected<ChangeRequest, Error> changeRequest(const nlohmann::json& params);
// Also card.activate {resume: true, new_pin}.
Expected<ActivationRequest, Error> activationRequest(const nlohmann::json& params);
Expected<IssuerRequest, Error> issuerRequest(const nlohmann::json& params, bool withNewPin);
// card.hsm_finish {session, internal_result (hex, ≥ 8 bytes), external_cryptogram (hex, 16 bytes)}.
// For a 1st/2nd-generation session both may be empty strings.
Expected<HsmFinishRequest, Error> hsmFinishRequest(const nlohmann::json& params);

// list.lookup: card_id, or region and card_number.
Expected<blacklist::CardFacts, Error> lookupFacts(const nlohmann::json& params);

}  // namespace sscard::daemon
