#include "base/error.hpp"

namespace sscard {

std::string_view codeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::usage:
            return "usage";
        case ErrorCode::config:
            return "config";
        case ErrorCode::no_reader:
            return "no_reader";
        case ErrorCode::no_card:
            return "no_card";
        case ErrorCode::card_removed:
            return "card_removed";
        case ErrorCode::not_ssse_card:
            return "not_ssse_card";
        case ErrorCode::card_error:
            return "card_error";
        case ErrorCode::read_key_required:
            return "read_key_required";
        case ErrorCode::pin_wrong:
            return "pin_wrong";
        case ErrorCode::pin_blocked:
            return "pin_blocked";
        case ErrorCode::pin_weak:
            return "pin_weak";
        case ErrorCode::card_denied:
            return "card_denied";
        case ErrorCode::not_allowed:
            return "not_allowed";
        case ErrorCode::busy:
            return "busy";
        case ErrorCode::list_unavailable:
            return "list_unavailable";
        case ErrorCode::sync_failed:
            return "sync_failed";
        case ErrorCode::feed_rejected:
            return "feed_rejected";
        case ErrorCode::card_not_genuine:
            return "card_not_genuine";
        case ErrorCode::auth_failed:
            return "auth_failed";
        case ErrorCode::no_session:
            return "no_session";
        case ErrorCode::internal:
            return "internal";
    }
    return "internal";
}

std::optional<ErrorCode> codeFromName(std::string_view name) {
    for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
        auto code = static_cast<ErrorCode>(i);
        if (codeName(code) == name) return code;
    }
    return std::nullopt;
}

int exitStatus(ErrorCode code) {
    switch (code) {
        case ErrorCode::usage:
        case ErrorCode::config:
            return 2;
        case ErrorCode::no_reader:
            return 3;
        case ErrorCode::no_card:
            return 4;
        case ErrorCode::card_removed:
            return 5;
        case ErrorCode::not_ssse_card:
            return 6;
        case ErrorCode::card_error:
        case ErrorCode::read_key_required:
            return 7;
        case ErrorCode::pin_wrong:
            return 8;
        case ErrorCode::pin_blocked:
            return 9;
        case ErrorCode::pin_weak:
            return 10;
        case ErrorCode::card_denied:
            return 11;
        case ErrorCode::not_allowed:
            return 12;
        case ErrorCode::busy:
            return 13;
        case ErrorCode::list_unavailable:
            return 14;
        case ErrorCode::sync_failed:
            return 15;
        case ErrorCode::feed_rejected:
            return 16;
        case ErrorCode::card_not_genuine:
            return 17;
        case ErrorCode::auth_failed:
            return 18;
        case ErrorCode::no_session:
            return 19;
        case ErrorCode::internal:
            return 1;
    }
    return 1;
}

std::string errorText(const Error& error) {
    return std::string(codeName(error.code)) + ": " + error.message;
}

}  // namespace sscard
