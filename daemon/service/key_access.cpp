#include "daemon/service/key_access.hpp"

#include "apdu/ssse/psam.hpp"
#include "daemon/key_config.hpp"
#include "daemon/log.hpp"

namespace sscard::daemon {

Expected<void, Error> KeyAccess::load() {
    if (config_.keys.source != KeySourceKind::file) return {};
    auto keys = loadSoftwareKeys(config_.keys, [](std::string_view w) { logWarn(std::string(w)); });
    if (!keys) return unexpected(keys.error());
    softwareKeys_ = std::move(*keys);
    return {};
}

Expected<void, Error> KeyAccess::require(const std::string& method) const {
    if (configured()) return {};
    return unexpected(makeError(
        ErrorCode::not_allowed,
        method + " needs the issuer's keys, and this terminal has none: set [keys] source = "
                 "\"psam\" and psam_reader (the SAM slot) in the configuration"));
}

Expected<void, Error> KeyAccess::use(const KeyUse& fn) {
    if (softwareKeys_) return fn(*softwareKeys_);
    if (config_.keys.source != KeySourceKind::psam || samSlot_ == nullptr) {
        return unexpected(makeError(ErrorCode::not_allowed,
                                    "no issuer keys: [keys] source is not set on this terminal"));
    }
    const auto options = psamOptions(config_.keys);
    auto done = samSlot_->use([&](apdu::CardConnection& psam) -> Expected<void, Error> {
        ssse::PsamKeySource keys(psam, options);
        return fn(keys);
    });
    if (!done && !done.error().reason &&
        (done.error().code == ErrorCode::no_reader || done.error().code == ErrorCode::no_card)) {
        Error e = done.error();
        e.reason = "no_psam";
        return unexpected(std::move(e));
    }
    return done;
}

}  // namespace sscard::daemon
