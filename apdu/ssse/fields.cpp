#include "apdu/ssse/fields.hpp"

#include <iconv.h>

#include <cerrno>
#include <cstdio>

namespace sscard::ssse {

std::string Date::iso() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
    return buf;
}

bool isEmptyField(ByteView value) {
    bool allZero = true, allFF = true;
    for (auto b : value) {
        allZero = allZero && b == 0x00;
        allFF = allFF && b == 0xFF;
    }
    return allZero || allFF;
}

static ByteView trimPadding(ByteView value) {
    std::size_t end = value.size();
    while (end > 0 &&
           (value[end - 1] == 0x00 || value[end - 1] == 0xFF || value[end - 1] == 0x20)) {
        --end;
    }
    return value.first(end);
}

std::optional<std::string> decodeAn(ByteView value) {
    ByteView text = trimPadding(value);
    if (text.empty()) return std::nullopt;
    std::string out;
    for (auto b : text) {
        if (b < 0x20 || b > 0x7E) return std::nullopt;
        out.push_back(static_cast<char>(b));
    }
    return out;
}

std::optional<std::string> decodeGbk(ByteView value) {
    ByteView text = trimPadding(value);
    if (text.empty()) return std::nullopt;
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::string in(text.begin(), text.end());
    std::string out(in.size() * 4 + 4, '\0');
    char* inPtr = in.data();
    std::size_t inLeft = in.size();
    char* outPtr = out.data();
    std::size_t outLeft = out.size();
    std::size_t rc = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft);
    iconv_close(cd);
    if (rc == static_cast<std::size_t>(-1) || inLeft != 0) return std::nullopt;
    out.resize(out.size() - outLeft);
    return out;
}

std::optional<std::string> decodeCnDigits(ByteView value) {
    if (isEmptyField(value)) return std::nullopt;
    std::string digits;
    bool padding = false;
    for (auto b : value) {
        for (int nibble : {b >> 4, b & 0x0F}) {
            if (nibble == 0x0F) {
                padding = true;
            } else if (padding || nibble > 9) {
                return std::nullopt;  // a digit after padding, or not BCD
            } else {
                digits.push_back(static_cast<char>('0' + nibble));
            }
        }
    }
    if (digits.empty()) return std::nullopt;
    return digits;
}

std::optional<std::string> decodeHex(ByteView value) {
    if (value.empty() || isEmptyField(value)) return std::nullopt;
    return toHex(value);
}

static bool isLeapYear(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::optional<Date> decodeDate(ByteView value) {
    if (value.size() != 4) return std::nullopt;
    auto digits = decodeCnDigits(value);
    if (!digits || digits->size() != 8) return std::nullopt;
    Date d{std::stoi(digits->substr(0, 4)), std::stoi(digits->substr(4, 2)),
           std::stoi(digits->substr(6, 2))};
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d.year < 1900 || d.month < 1 || d.month > 12 || d.day < 1) return std::nullopt;
    int maxDay = kDays[d.month - 1] + (d.month == 2 && isLeapYear(d.year) ? 1 : 0);
    if (d.day > maxDay) return std::nullopt;
    return d;
}

int generationFromSpecVersion(const std::optional<std::string>& specVersion) {
    if (!specVersion || specVersion->empty()) return 1;
    char major = (*specVersion)[0];
    if (major >= '1' && major <= '9') return major - '0';
    return 1;
}

}  // namespace sscard::ssse
