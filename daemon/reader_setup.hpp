// Which transports the terminal uses, from its configuration: PC/SC always, libnfc devices listed
// under [nfc] devices. The one place that knows every transport.
#pragma once

#include <memory>
#include <vector>

#include "apdu/reader.hpp"
#include "config/config.hpp"
#include "daemon/readers.hpp"

namespace sscard::daemon {

ReaderDirectory makeReaderDirectory(const Config& config);

// One monitor per transport; run each on its own thread (see MonitorGroup).
std::vector<std::unique_ptr<apdu::ReaderMonitor>> makeMonitors(const Config& config);

}  // namespace sscard::daemon
