#include "daemon/reader_setup.hpp"

#include "apdu/pcsc/monitor.hpp"
#include "apdu/pcsc/provider.hpp"

namespace sscard::daemon {

ReaderDirectory makeReaderDirectory(const Config& /*config*/) {
    ReaderDirectory readers;
    readers.add(std::make_unique<apdu::pcsc::PcscReaderProvider>());
    return readers;
}

std::vector<std::unique_ptr<apdu::ReaderMonitor>> makeMonitors(const Config& /*config*/) {
    std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors;
    monitors.push_back(std::make_unique<apdu::pcsc::Monitor>());
    return monitors;
}

}  // namespace sscard::daemon
