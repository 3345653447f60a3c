#include "test/unit/service/fake_ssse_card.hpp"

#include <algorithm>

#include "apdu/ssse/application.hpp"

namespace sscard::test {

namespace {

Bytes sw(std::uint16_t value) {
    return {static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
}

void tlv(Bytes& out, std::uint8_t tag, const Bytes& value) {
    out.push_back(tag);
    out.push_back(static_cast<std::uint8_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
}

Bytes ascii(const std::string& s, std::size_t length) {
    Bytes b(s.begin(), s.end());
    b.resize(length, 0x00);
    return b;
}

Bytes bcd(const std::string& digits, std::size_t length) {
    std::string padded = digits;
    if (padded.size() % 2) padded.push_back('F');
    Bytes b = fromHex(padded).value_or(Bytes{});
    b.resize(length, 0xFF);
    return b;
}

// BCD PIN digits (F-padded) back to text.
std::string pinDigits(ByteView data) {
    std::string digits = toHex(Bytes(data.begin(), data.end()));
    digits.erase(std::remove(digits.begin(), digits.end(), 'F'), digits.end());
    return digits;
}

}  // namespace

int FakeCardState::countSent(std::uint8_t ins) const {
    return static_cast<int>(std::count_if(
        sent.begin(), sent.end(), [&](const Bytes& c) { return c.size() >= 2 && c[1] == ins; }));
}

Expected<void, apdu::TransportError> FakeSsseCard::beginTransaction() {
    if (!state_->present)
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "gone"});
    return {};
}

Expected<Bytes, apdu::TransportError> FakeSsseCard::transmitRaw(ByteView command) {
    if (!state_->present)
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "gone"});
    Bytes c(command.begin(), command.end());
    state_->sent.push_back(c);
    Bytes r = answer(c);
    if (r.empty()) {
        state_->present = false;
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "gone"});
    }
    return r;
}

Bytes FakeSsseCard::answer(const Bytes& c) {
    if (c.size() < 4) return sw(0x6700);
    std::uint8_t ins = c[1], p1 = c[2], p2 = c[3];
    ByteView data = c.size() > 5 ? ByteView(c).subspan(5, c[4]) : ByteView{};
    FakeCardState& s = *state_;
    switch (ins) {
        case 0xA4:  // SELECT
            if (Bytes(data.begin(), data.end()) == ssse::kSsseDfName) return sw(0x9000);
            return sw(0x6A82);
        case 0xB2: {  // READ RECORD, P1 to last only
            Bytes out;
            if (p1 == 0x01 && p2 == ((0x05 << 3) | 0x05)) {
                tlv(out, 0x01, bcd(s.cardId, 16));
                tlv(out, 0x02, ascii("3", 1));
                tlv(out, 0x03, ascii(s.specVersion, 4));
                tlv(out, 0x04, bcd("915600000234120034010A0C", 12));
                tlv(out, 0x05, bcd("20201001", 4));
                tlv(out, 0x06, bcd(s.expires, 4));
                tlv(out, 0x07, ascii(s.cardNumber, 9));
            } else if (p1 == 0x01 && p2 == ((0x06 << 3) | 0x05)) {
                if (s.specVersion.rfind("3.", 0) == 0) return sw(0x6982);
                tlv(out, 0x08, ascii("111111198101011110", 18));
                tlv(out, 0x09, ascii("ZHANG", 30));
                tlv(out, 0x4E, ascii("", 20));
                tlv(out, 0x0A, ascii("1", 1));
                tlv(out, 0x0B, bcd("01", 1));
                tlv(out, 0x0C, bcd("110101", 3));
                tlv(out, 0x0D, bcd(s.birthDate, 4));
            } else {
                return sw(0x6A86);
            }
            out.push_back(0x90);
            out.push_back(0x00);
            return out;
        }
        case 0x20: {  // VERIFY
            if (s.triesLeft == 0) return sw(0x6983);
            if (data.empty()) return sw(static_cast<std::uint16_t>(0x63C0 | s.triesLeft));
            if (pinDigits(data) == s.pin) {
                s.triesLeft = s.maxTries;
                return sw(0x9000);
            }
            --s.triesLeft;
            return sw(static_cast<std::uint16_t>(0x63C0 | s.triesLeft));
        }
        case 0x5E: {  // CHANGE PIN: old ‖ FF ‖ new
            auto sep = std::find(data.begin(), data.end(), 0xFF);
            if (sep == data.end()) return sw(0x6A80);
            if (s.triesLeft == 0) return sw(0x6983);
            if (pinDigits(ByteView(data.begin(), sep)) != s.pin) {
                --s.triesLeft;
                return sw(static_cast<std::uint16_t>(0x63C0 | s.triesLeft));
            }
            s.pin = pinDigits(ByteView(sep + 1, data.end()));
            s.triesLeft = s.maxTries;
            if (s.vanishDuringChangePin) return {};
            return sw(0x9000);
        }
        default:
            return sw(0x6D00);
    }
}

Expected<std::vector<apdu::ReaderInfo>, apdu::TransportError> FakeReaderProvider::listReaders() {
    apdu::ReaderInfo r;
    r.name = kReader;
    r.cardPresent = state_->present;
    if (r.cardPresent) r.atr = {0x3B, 0x6D};
    return std::vector<apdu::ReaderInfo>{r};
}

Expected<std::unique_ptr<apdu::CardConnection>, apdu::TransportError> FakeReaderProvider::connect(
    const std::string& readerName) {
    if (readerName != kReader)
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::reader_gone, "no reader"});
    if (!state_->present)
        return unexpected(apdu::TransportError{apdu::TransportErrorKind::card_removed, "no card"});
    return std::unique_ptr<apdu::CardConnection>(
        std::make_unique<FakeSsseCard>(readerName, state_));
}

}  // namespace sscard::test
