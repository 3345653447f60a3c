// The issuer-key settings of [keys] as the card modules take them: the PSAM's usages and key ids,
// and the card's key ids. Shared by the service and `sscardd diag read --holder`.
#pragma once

#include "apdu/ssse/authentication.hpp"
#include "apdu/ssse/issuer.hpp"
#include "apdu/ssse/psam.hpp"
#include "config/config.hpp"

namespace sscard::daemon {

ssse::PsamOptions psamOptions(const KeysConfig& keys);
ssse::AuthKeyIds authKeyIds(const KeysConfig& keys);
ssse::IssuerKeyIds issuerKeyIds(const KeysConfig& keys);

}  // namespace sscard::daemon
