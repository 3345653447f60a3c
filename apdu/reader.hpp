// Readers as the rest of the program sees them, whatever their transport.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apdu/transport.hpp"
#include "base/bytes.hpp"
#include "base/expected.hpp"

namespace sscard::apdu {

struct ReaderInfo {
    std::string name;
    Interface interface = Interface::contact;
    bool cardPresent = false;
    Bytes atr;  // empty when no card
};

// PC/SC part 3: a contactless card behind a PC/SC reader shows a pseudo-ATR 3B 8x 80 01 …
bool isContactlessPseudoAtr(ByteView atr);

// Contactless when the ATR is a part-3 pseudo-ATR, or the reader's name says so
// ("PICC", "Contactless", "CL" as a word, "NFC"); contact otherwise.
Interface classifyInterface(const std::string& readerName, ByteView atr);

// A source of readers: PC/SC, libnfc. Implementations live under apdu/pcsc and apdu/nfc.
class ReaderProvider {
  public:
    virtual ~ReaderProvider() = default;
    virtual Expected<std::vector<ReaderInfo>, TransportError> listReaders() = 0;
    virtual Expected<std::unique_ptr<CardConnection>, TransportError> connect(
        const std::string& readerName) = 0;
};

// Something that happened to a reader or its card, whatever the transport.
struct ReaderEvent {
    enum Type {
        reader_added,
        reader_removed,
        card_inserted,
        card_removed,
        service_lost,  // the transport's service went away (pcscd, an NFC device); readers follow
                       // as removed
        service_restored,  // it works again; readers follow as added
    };
    Type type = reader_added;
    std::string reader;                        // empty for the service events
    Interface interface = Interface::contact;  // from reader name and ATR
    Bytes atr;                                 // card_inserted (and card_removed: the card's ATR)
    std::string message;                       // service_lost: why
};

// "reader.added", "card.inserted", "service.lost", … (the names of the API notifications)
const char* eventName(ReaderEvent::Type type);

// Watches a transport's readers and reports events until stopped.
class ReaderMonitor {
  public:
    using Callback = std::function<void(const ReaderEvent&)>;
    virtual ~ReaderMonitor() = default;
    // Blocks, calling onEvent on this thread, until `stop` is set or requestStop() is called.
    virtual void run(const std::atomic<bool>& stop, const Callback& onEvent) = 0;
    // From any thread (not from a signal handler): ends run() promptly.
    virtual void requestStop() noexcept = 0;
};

}  // namespace sscard::apdu
