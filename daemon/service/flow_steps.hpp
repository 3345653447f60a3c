// Steps the PIN flows and the issuer flows share: opening the application on a held card in one
// transaction, the list check, the new-PIN policy, the attempt-limit error, where the PIN stands.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "apdu/outcome.hpp"
#include "apdu/pinpad.hpp"
#include "apdu/ssse/application.hpp"
#include "apdu/ssse/pin_commands.hpp"
#include "apdu/ssse/pin_policy.hpp"
#include "apdu/ssse/secret_pin.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/card_check.hpp"
#include "daemon/service/card_desk.hpp"
#include "daemon/service/event_recorder.hpp"

namespace sscard::daemon {

// Where a PIN comes from: the request (host), or the reader's PIN pad (PC/SC part 10).
enum class PinSource { host, pinpad };

ssse::PinPolicy pinPolicyOf(const Config& config);

// The PIN pad's entry format from the policy (the pad enforces the length only).
apdu::PinEntryFormat pinEntryFormatOf(const ssse::PinPolicy& policy);

// The reader's PIN pad when the request asks for one; nullopt for host PINs; not_allowed when
// the reader has none for the operation (`modify`: changing a PIN, else entering one).
Expected<std::optional<apdu::PinpadFeatures>, Error> pinpadFor(PinSource source,
                                                               apdu::CardConnection& card,
                                                               bool modify);

// card_denied (audited as `refusedKind`) unless the list allows the card.
Expected<void, Error> requireAllowed(ListAccess& list, const Config& config, EventRecorder& events,
                                     const ssse::CardInfo& card, const std::string& reader,
                                     const std::string& refusedKind, const std::string& refusal);

// A new PIN against the policy, with the holder's birth date where EF06 can be read.
Expected<void, Error> checkNewPinFor(const Config& config, ssse::SsseApplication& app,
                                     const ssse::CardInfo& info, const ssse::SecretPin& newPin,
                                     const ssse::SecretPin* initial);

// A pin_weak for a caller without the personal-data right: the same for every rule, so that it
// does not tell whether the PIN holds the holder's birth date.
Error withoutPolicyRule(const Error& weak);

Error tooManyAttempts(const std::string& reader);

// pin_state "unchanged" on an error that does not say yet where the PIN stands.
template <class T>
Expected<T, Error> withPinState(Expected<T, Error> result) {
    if (!result && !result.error().pin_state) {
        Error e = std::move(result).error();
        e.pin_state = "unchanged";
        return unexpected(std::move(e));
    }
    return result;
}

// Runs fn(card, transaction, application) with the SSSE application selected on the card of
// `reader`, inside one PC/SC transaction on the held reader. The transaction ends with a card
// reset: a PIN verified or an issuer authentication opened by the flow must not serve another
// program.
template <class Fn>
auto withApplication(CardDesk& desk, ssse::ReadStrategyCache& readStrategy,
                     const std::optional<std::string>& reader, Fn&& fn)
    -> decltype(fn(std::declval<apdu::CardConnection&>(), std::declval<apdu::Transaction&>(),
                   std::declval<ssse::SsseApplication&>())) {
    auto held = desk.hold(reader);
    if (!held) return unexpected(held.error());
    apdu::CardConnection& card = held->card();
    auto tx = card.begin();
    if (!tx) return unexpected(apdu::fromTransport(tx.error(), "starting a transaction"));
    card.resetWhenTransactionEnds();
    ssse::SsseApplication app(*tx, readStrategy);
    if (auto selected = app.select(); !selected) return unexpected(selected.error());
    return fn(card, *tx, app);
}

}  // namespace sscard::daemon
