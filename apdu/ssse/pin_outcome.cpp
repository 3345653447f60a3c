#include "apdu/ssse/pin_outcome.hpp"

#include <string>

#include "apdu/outcome.hpp"

namespace sscard::ssse {

Error withPinState(Error e, const char* state) {
    e.pin_state = state;
    return e;
}

Expected<void, Error> unchangedOnError(Expected<void, Error> r) {
    if (r) return r;
    return unexpected(withPinState(std::move(r).error(), kPinUnchanged));
}

Expected<void, Error> pinOutcome(std::uint16_t sw, std::string_view step) {
    if (sw == 0x9000) return {};
    if ((sw & 0xFFF0) == 0x63C0) {
        const int left = sw & 0x0F;
        if (left == 0) {
            Error e = makeError(ErrorCode::pin_blocked,
                                "wrong PIN; that was the last try: the PIN is now blocked");
            e.tries_left = 0;
            return unexpected(std::move(e));
        }
        Error e =
            makeError(ErrorCode::pin_wrong, "wrong PIN; " + std::to_string(left) + " tries left");
        e.tries_left = left;
        return unexpected(std::move(e));
    }
    if (sw == 0x6983) {
        Error e = makeError(ErrorCode::pin_blocked,
                            "the PIN is blocked (6983): the issuer must reset or unblock it");
        e.tries_left = 0;
        return unexpected(std::move(e));
    }
    if (sw >= 0x6400 && sw <= 0x6403) {
        static constexpr const char* kPinpad[] = {
            "pinpad: PIN entry timed out", "pinpad: PIN entry cancelled",
            "pinpad: the new PIN entries differ", "pinpad: PIN of the wrong length"};
        Error e = makeError(ErrorCode::card_error, kPinpad[sw - 0x6400]);
        e.sw = sw;
        return unexpected(std::move(e));
    }
    if (sw == 0x6A88) {
        Error e =
            makeError(ErrorCode::card_error, std::string(step) + ": the card has no PIN (6A88)");
        e.sw = sw;
        return unexpected(std::move(e));
    }
    return unexpected(apdu::fromStatusWord(sw, step));
}

}  // namespace sscard::ssse
