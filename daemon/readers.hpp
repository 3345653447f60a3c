// All readers the terminal has, whatever their transport (PC/SC, libnfc), behind one directory, and
// the rule for which reader a command uses when none is named.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apdu/reader.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::daemon {

// Thread-safe once its providers are added: the providers are (apdu/reader.hpp), and the map of
// which provider has which reader has its own lock, never held during a provider call.
class ReaderDirectory {
  public:
    ReaderDirectory() = default;
    ReaderDirectory(ReaderDirectory&& other) noexcept;
    ReaderDirectory& operator=(ReaderDirectory&&) = delete;

    void add(std::unique_ptr<apdu::ReaderProvider> provider);

    // Readers of every provider. A provider that fails is skipped with a warning on `warnings`;
    // when all fail, the first failure is returned. Remembers which provider has which reader.
    Expected<std::vector<apdu::ReaderInfo>, Error> listReaders(
        std::vector<std::string>* warnings = nullptr);

    // Connects to the card in a reader seen by the last listReaders() (listing again if unknown).
    Expected<std::unique_ptr<apdu::CardConnection>, Error> connect(const std::string& reader);

  private:
    apdu::ReaderProvider* ownerOf(const std::string& reader);

    std::vector<std::unique_ptr<apdu::ReaderProvider>> providers_;
    std::mutex ownerMutex_;
    std::map<std::string, apdu::ReaderProvider*> owner_;
};

// The reader a command works on: the named one (which must hold a card), else the only reader with
// a card; with cards in several, the first of the preferred interface, in listing order.
Expected<apdu::ReaderInfo, Error> chooseReader(const std::vector<apdu::ReaderInfo>& readers,
                                               const std::optional<std::string>& named,
                                               apdu::Interface prefer);

}  // namespace sscard::daemon
