// PC/SC as a ReaderProvider: every reader pcscd knows, with its card state, and connections to
// them.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apdu/pcsc/card.hpp"
#include "apdu/pcsc/context.hpp"
#include "apdu/reader.hpp"

namespace sscard::apdu::pcsc {

// Thread-safe. Listing runs on a context of the provider's own, established on first use and
// re-established once when a call reports service loss (pcscd restarted or was socket-activated
// anew); each connected card gets its own context (card.hpp).
class PcscReaderProvider final : public ReaderProvider {
  public:
    explicit PcscReaderProvider(ConnectOptions options = {});

    // name, interface (from name and ATR), card presence and ATR for every reader; an empty list
    // when there are none. no_service ("PC/SC service (pcscd) is not running") when pcscd is down.
    Expected<std::vector<ReaderInfo>, TransportError> listReaders() override;

    Expected<std::unique_ptr<CardConnection>, TransportError> connect(
        const std::string& readerName) override;

    // The same, typed: for callers that want PcscCard::takeResetFlag.
    Expected<std::unique_ptr<PcscCard>, TransportError> connectCard(const std::string& readerName);

  private:
    Expected<std::vector<ReaderInfo>, TransportError> listOnce();

    ConnectOptions options_;
    std::mutex mutex_;
    std::optional<Context> context_;
};

}  // namespace sscard::apdu::pcsc
