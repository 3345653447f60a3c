// The readers as the service hands them out to requests: which reader a request works on, one
// operation at a time per reader (a second waits up to `wait`, then gets busy), and a connection to
// its card. Connecting takes no lock shared between readers, so a slow reader delays only its own
// requests. The PSAM's slot ([keys] psam_reader) is never handed out as a card reader.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apdu/reader.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "daemon/readers.hpp"

namespace sscard::daemon {

struct CardDeskOptions {
    apdu::Interface prefer = apdu::Interface::contact;  // [readers] prefer
    std::optional<std::string> samSlot;                 // the PSAM's reader, when keys are a PSAM
    std::chrono::milliseconds wait{3000};               // how long a request waits for a reader
};

// A reader held for one operation, with a connection to its card. The connection closes before
// the reader is released.
class HeldCard {
  public:
    apdu::CardConnection& card() { return *connection_; }

  private:
    friend class CardDesk;
    std::shared_ptr<std::timed_mutex> mutex_;
    std::unique_lock<std::timed_mutex> guard_;
    std::unique_ptr<apdu::CardConnection> connection_;
};

class CardDesk {
  public:
    CardDesk(ReaderDirectory readers, CardDeskOptions options);

    // Every reader, the SAM slot included (readers.list marks it).
    Expected<std::vector<apdu::ReaderInfo>, Error> listReaders();
    bool isSamSlot(const std::string& reader) const;

    // The reader a request works on (the named one, else the only one with a card, else the
    // preferred interface), held, with a connection to its card.
    Expected<HeldCard, Error> hold(const std::optional<std::string>& named);

    // A reader by name, whatever it is (the PSAM's slot too); `what` names it in errors
    // ("the PSAM in …").
    Expected<HeldCard, Error> holdReader(const std::string& reader, const std::string& what);

  private:
    Expected<apdu::ReaderInfo, Error> pick(const std::optional<std::string>& named);
    std::shared_ptr<std::timed_mutex> lockFor(const std::string& reader);

    ReaderDirectory readers_;
    CardDeskOptions options_;
    std::mutex locksMutex_;
    std::map<std::string, std::shared_ptr<std::timed_mutex>> locks_;
};

}  // namespace sscard::daemon
