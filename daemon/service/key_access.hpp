// The issuer's keys as the service reaches them ([keys]): the PSAM on the connection the service
// holds exclusively (sam_slot.hpp; one operation at a time), or a lab key file (refused unless
// allow_software_keys). Used by the issuer
// flows (pin.reset / pin.unblock), the holder read of 3rd-generation cards and the chip check.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apdu/ssse/key_source.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "config/config.hpp"
#include "daemon/service/sam_slot.hpp"

namespace sscard::daemon {

class KeyAccess {
  public:
    // `samSlot`: the PSAM the service holds, with [keys] source = "psam" (must outlive this).
    KeyAccess(const Config& config, SamSlot* samSlot) : config_(config), samSlot_(samSlot) {}

    // With [keys] source = "file": loads the key file (refused unless allow_software_keys).
    Expected<void, Error> load();
    bool configured() const { return config_.keys.source != KeySourceKind::none; }
    // not_allowed, naming [keys], when the terminal has no issuer keys; `method` names the call.
    Expected<void, Error> require(const std::string& method) const;

    // Runs fn with the key source. A PSAM that cannot be reached is an error with reason "no_psam".
    using KeyUse = std::function<Expected<void, Error>(ssse::KeySource&)>;
    Expected<void, Error> use(const KeyUse& fn);

  private:
    const Config& config_;
    SamSlot* samSlot_;
    std::unique_ptr<ssse::SoftwareKeySource> softwareKeys_;
};

}  // namespace sscard::daemon
