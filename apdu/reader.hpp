// Readers as the rest of the program sees them, whatever their transport.
#pragma once

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

}  // namespace sscard::apdu
