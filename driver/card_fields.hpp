// The interface's text layouts built from the service's JSON (docs/driver.md): the eleven fields
// of iReadCardBas, the ATR's historical bytes, the card information of iReloadPIN/iUnblockPIN.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sscard::driver {

// The historical bytes of an ATR given in hex (ISO/IEC 7816-3: T0's low nibble counts them, after
// the interface bytes TD chains announce), in upper-case hex; empty when the ATR is malformed.
std::string historicalBytes(std::string_view atrHex);

struct TerminalFields {
    std::string terminal_number;  // 终端机编号
    std::string device_number;    // 终端设备号
};

// `region|ssn|card number|card id|name|ATR historical bytes|spec version|issued|expires|
// terminal number|device number|` (UTF-8) from card.read's answer (with or without holder).
std::string basicCardText(const nlohmann::json& read, const TerminalFields& terminal);

// Splits "a|b|c|" into {"a","b","c"}; a last field without '|' counts too.
std::vector<std::string> splitFields(std::string_view text);

// What iReloadPIN / iUnblockPIN are given about the card: "<卡识别码>|<卡号>|[<新密码>|]".
struct CardInfo {
    CardInfo() = default;
    CardInfo(CardInfo&&) = default;
    CardInfo& operator=(CardInfo&&) = delete;
    CardInfo(const CardInfo&) = delete;
    CardInfo& operator=(const CardInfo&) = delete;
    ~CardInfo();

    std::string card_id;      // 32 hex digits, upper case
    std::string card_number;  // 9 characters
    std::string new_pin;      // iReloadPIN only; wiped on destruction
};
std::optional<CardInfo> parseCardInfo(std::string_view text, bool withNewPin);

// True for 4 to 16 decimal digits.
bool isPin(std::string_view pin);

}  // namespace sscard::driver
