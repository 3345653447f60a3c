// The failure classes of the command-line and API contract
// (docs/cli.md#exit-status-and-error-codes): one vocabulary for every layer above the transports,
// so that a CLI exit status, a JSON error and a JSON-RPC error agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sscard {

enum class ErrorCode {
    usage,              // bad command line
    config,             // bad configuration file
    no_reader,          // no reader, or the named one does not exist, or PC/SC is not running
    no_card,            // no card in the reader(s)
    card_removed,       // the card left in the middle of an operation
    not_ssse_card,      // the card has no social security application
    card_error,         // the card answered something we cannot use
    read_key_required,  // the data needs the issuer's read key (3rd-generation EF06)
    pin_wrong,
    pin_blocked,
    pin_weak,
    card_denied,
    not_allowed,
    busy,
    list_unavailable,
    sync_failed,
    feed_rejected,
    card_not_genuine,  // the chip's internal authentication disagrees with the issuer's key
    auth_failed,       // the card refused external authentication (tries_left counts down)
    no_session,        // an HSM read session that does not exist (any more) for this caller
    internal,
};

std::string_view codeName(ErrorCode code);

// The code whose codeName() is `name`; nullopt for an unknown name.
std::optional<ErrorCode> codeFromName(std::string_view name);

// Process exit status for a failure of this class (README "Exit status").
int exitStatus(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;
    std::optional<int> tries_left;  // pin_wrong
    // Flows that may change a card's PIN: where the PIN stands after the failure. "unchanged"
    // (the command that changes it was not sent, or the card refused it), "unknown" (the card
    // left while that command was under way: try the new PIN, then the old), "changed" (the
    // PIN is the new one; something after it failed).
    std::optional<std::string> pin_state;
    // A finer cause within the code where a client must tell them apart (docs/api.md#errors):
    // "no_psam", "psam_algorithm", "psam_no_key", "key_blocked".
    std::optional<std::string> reason;
    // The card's status word when the failure is one (card_error from an unexpected word, a PIN
    // pad's 64xx): clients that report status words (the national reader interface) need it.
    std::optional<std::uint16_t> sw;
};

// A status word as four upper-case hex digits ("6A82"), as the JSON errors carry it; and back
// (nullopt unless exactly four hex digits).
std::string swText(std::uint16_t sw);
std::optional<std::uint16_t> swFromText(std::string_view text);

// "code: message", for logs.
std::string errorText(const Error& error);

inline Error makeError(ErrorCode code, std::string message) {
    return Error{code, std::move(message), std::nullopt, std::nullopt, std::nullopt, std::nullopt};
}

}  // namespace sscard
