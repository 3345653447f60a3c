// `sscardd status`: asks the running daemon for its status over the local API.
#pragma once

#include "config/config.hpp"
#include "daemon/output.hpp"

namespace sscard::daemon {

int runStatusClient(const Config& config, const Output& out);

}  // namespace sscard::daemon
