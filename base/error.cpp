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

std::string swText(std::uint16_t sw) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string text(4, '0');
    for (int i = 3; i >= 0; --i, sw = static_cast<std::uint16_t>(sw >> 4)) text[i] = kHex[sw & 0xF];
    return text;
}

std::optional<std::uint16_t> swFromText(std::string_view text) {
    if (text.size() != 4) return std::nullopt;
    unsigned value = 0;
    for (char c : text) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (c >= 'A' && c <= 'F') {
            digit = static_cast<unsigned>(c - 'A' + 10);
        } else if (c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return std::nullopt;
        }
        value = value * 16 + digit;
    }
    return static_cast<std::uint16_t>(value);
}

std::string errorText(const Error& error) {
    return std::string(codeName(error.code)) + ": " + error.message;
}

}  // namespace sscard
