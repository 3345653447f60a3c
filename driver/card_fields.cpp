#include "driver/card_fields.hpp"

#include <cctype>

#include "driver/daemon_link.hpp"

namespace sscard::driver {

namespace {

using nlohmann::json;

std::string field(const json& object, const char* key) {
    if (!object.is_object()) return {};
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return {};
    std::string value = it->get<std::string>();
    // A '|' inside a field would shift every field after it.
    for (char& c : value) {
        if (c == '|') c = ' ';
    }
    return value;
}

std::string compactDate(const std::string& iso) {
    std::string out;
    for (char c : iso) {
        if (c != '-') out += c;
    }
    return out;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

std::string historicalBytes(std::string_view atrHex) {
    if (atrHex.size() % 2 != 0 || atrHex.size() < 4) return {};
    std::vector<int> atr;
    for (std::size_t i = 0; i < atrHex.size(); i += 2) {
        int hi = hexValue(atrHex[i]);
        int lo = hexValue(atrHex[i + 1]);
        if (hi < 0 || lo < 0) return {};
        atr.push_back(hi * 16 + lo);
    }
    const int t0 = atr[1];
    const std::size_t count = static_cast<std::size_t>(t0 & 0x0F);
    std::size_t pos = 2;
    int indicator = t0;  // T0 or TDi: the high nibble says which interface bytes follow
    for (;;) {
        for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
            if (indicator & bit) ++pos;  // TA, TB, TC
        }
        if (!(indicator & 0x80)) break;
        if (pos >= atr.size()) return {};
        indicator = atr[pos++];  // TD
    }
    if (pos + count > atr.size()) return {};
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = pos; i < pos + count; ++i) {
        out += kHex[atr[i] >> 4];
        out += kHex[atr[i] & 0xF];
    }
    return out;
}

std::string basicCardText(const json& read, const TerminalFields& terminal) {
    const json empty = json::object();
    const json& card = read.contains("card") ? read["card"] : empty;
    const json& holder = read.contains("holder") ? read["holder"] : empty;
    std::string region = field(card, "region");
    const std::string cardId = field(card, "card_id");
    if (region.empty() && cardId.size() >= 6) region = cardId.substr(0, 6);
    const std::string fields[] = {
        region,
        field(holder, "ssn"),
        field(card, "card_number"),
        cardId,
        field(holder, "name"),
        historicalBytes(field(read, "atr")),
        field(card, "spec_version"),
        compactDate(field(card, "issued_on")),
        compactDate(field(card, "expires_on")),
        terminal.terminal_number,
        terminal.device_number,
    };
    std::string out;
    for (const auto& f : fields) {
        for (char c : f) out += c == '|' ? ' ' : c;
        out += '|';
    }
    return out;
}

std::vector<std::string> splitFields(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto bar = text.find('|');
        out.emplace_back(text.substr(0, bar));
        if (bar == std::string_view::npos) break;
        text.remove_prefix(bar + 1);
    }
    return out;
}

CardInfo::~CardInfo() {
    wipe(new_pin);
}

bool isPin(std::string_view pin) {
    if (pin.size() < 4 || pin.size() > 16) return false;
    for (char c : pin) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<CardInfo> parseCardInfo(std::string_view text, bool withNewPin) {
    auto fields = splitFields(text);
    const std::size_t needed = withNewPin ? 3 : 2;
    if (fields.size() < needed) return std::nullopt;
    CardInfo info;
    info.card_id = fields[0];
    info.card_number = fields[1];
    if (withNewPin) info.new_pin = fields[2];
    for (auto& f : fields) wipe(f);
    if (info.card_id.size() != 32) return std::nullopt;
    for (char& c : info.card_id) {
        if (hexValue(c) < 0) return std::nullopt;
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (info.card_number.size() != 9) return std::nullopt;
    for (char c : info.card_number) {
        if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    }
    if (withNewPin && !isPin(info.new_pin)) return std::nullopt;
    return info;
}

}  // namespace sscard::driver
