// `sscardd diag watch`: reader and card events as they happen, until SIGINT or SIGTERM.
#pragma once

#include "config/config.hpp"
#include "daemon/output.hpp"

namespace sscard::daemon {

int diagWatch(const Config& config, const Output& out);

}  // namespace sscard::daemon
