// The issuer-key settings of [keys] as the card modules take them: the PSAM's usages and key ids,
// and the card's key ids. Shared by the service and `sscardd diag read --holder`.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "apdu/ssse/authentication.hpp"
#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/psam.hpp"
#include "apdu/ssse/software_keys.hpp"
#include "config/config.hpp"

namespace sscard::daemon {

ssse::PsamOptions psamOptions(const KeysConfig& keys);
ssse::AuthKeyIds authKeyIds(const KeysConfig& keys);
ssse::IssuerKeyIds issuerKeyIds(const KeysConfig& keys);

// [keys] source = "file": the key file, refused unless allow_software_keys; `warn` gets the warning
// at load and at each use.
Expected<std::unique_ptr<ssse::SoftwareKeySource>, Error> loadSoftwareKeys(
    const KeysConfig& keys, std::function<void(std::string_view)> warn);

}  // namespace sscard::daemon
