// iType (1 contact, 2 contactless, 3 contact first, 4 contactless first) turned into one of the
// service's readers (readers.list), so that the service never picks by its own preference.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/expected.hpp"
#include "driver/daemon_link.hpp"

namespace sscard::driver {

bool validType(int iType);

// The first reader (in the service's order, never the PSAM's slot) holding a card of the asked
// interface, by iType's preference. No reader of an asked interface at all is "no_reader"; such
// readers but no card in them is "no_card".
Expected<std::string, Failure> chooseReader(int iType, const nlohmann::json& readers);

}  // namespace sscard::driver
