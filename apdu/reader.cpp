#include "apdu/reader.hpp"

#include <cctype>
#include <string_view>

namespace sscard::apdu {

namespace {

std::string lowerCase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool isLetter(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// `word` occurs in `text` with no letter right before or after it ("5x21-CL", "5422CL Reader",
// "CL Reader" match; "Client", "ACL" do not).
bool containsWord(std::string_view text, std::string_view word) {
    for (std::size_t pos = text.find(word); pos != std::string_view::npos;
         pos = text.find(word, pos + 1)) {
        const bool letterBefore = pos > 0 && isLetter(text[pos - 1]);
        const std::size_t after = pos + word.size();
        const bool letterAfter = after < text.size() && isLetter(text[after]);
        if (!letterBefore && !letterAfter) return true;
    }
    return false;
}

}  // namespace

// 3B, T0 = 8n (only TD1 follows; n historical bytes), TD1 = 80 (TD2 follows, T=0),
// TD2 = 01 (T=1, nothing more), then the historical bytes and TCK.
bool isContactlessPseudoAtr(ByteView atr) {
    return atr.size() >= 4 && atr[0] == 0x3B && (atr[1] & 0xF0) == 0x80 && atr[2] == 0x80 &&
           atr[3] == 0x01;
}

Interface classifyInterface(const std::string& readerName, ByteView atr) {
    if (isContactlessPseudoAtr(atr)) return Interface::contactless;
    const std::string name = lowerCase(readerName);
    if (name.find("picc") != std::string::npos || name.find("contactless") != std::string::npos ||
        name.find("nfc") != std::string::npos || containsWord(name, "cl")) {
        return Interface::contactless;
    }
    return Interface::contact;
}

const char* eventName(ReaderEvent::Type type) {
    switch (type) {
        case ReaderEvent::reader_added:
            return "reader.added";
        case ReaderEvent::reader_removed:
            return "reader.removed";
        case ReaderEvent::card_inserted:
            return "card.inserted";
        case ReaderEvent::card_removed:
            return "card.removed";
        case ReaderEvent::service_lost:
            return "service.lost";
        case ReaderEvent::service_restored:
            return "service.restored";
    }
    return "unknown";
}

}  // namespace sscard::apdu
