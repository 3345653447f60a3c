#include "daemon/reader_setup.hpp"

#include "apdu/nfc/monitor.hpp"
#include "apdu/nfc/provider.hpp"
#include "apdu/pcsc/monitor.hpp"
#include "apdu/pcsc/provider.hpp"

namespace sscard::daemon {

// NFC devices are shared per connection string (apdu::nfc::NfcDevice::shared): the provider, the
// connections and the monitor of one device use one libnfc handle, which serialises them.

ReaderDirectory makeReaderDirectory(const Config& config) {
    ReaderDirectory readers;
    readers.add(std::make_unique<apdu::pcsc::PcscReaderProvider>());
    for (std::size_t i = 0; i < config.nfc.devices.size(); ++i) {
        readers.add(std::make_unique<apdu::nfc::NfcReaderProvider>(i, config.nfc.devices[i]));
    }
    return readers;
}

std::vector<std::unique_ptr<apdu::ReaderMonitor>> makeMonitors(const Config& config) {
    std::vector<std::unique_ptr<apdu::ReaderMonitor>> monitors;
    monitors.push_back(std::make_unique<apdu::pcsc::Monitor>());
    for (std::size_t i = 0; i < config.nfc.devices.size(); ++i) {
        const std::string& connstring = config.nfc.devices[i];
        monitors.push_back(std::make_unique<apdu::nfc::NfcMonitor>(
            apdu::nfc::NfcDevice::shared(connstring, apdu::nfc::readerNameFor(i, connstring))));
    }
    return monitors;
}

}  // namespace sscard::daemon
