#include "driver/gbk_output.hpp"

#include <iconv.h>

#include <cerrno>

#include "driver/SSCardDriver.h"

namespace sscard::driver {

namespace {

// Length of the UTF-8 sequence starting with this byte (1 for a byte that starts none).
std::size_t sequenceLength(unsigned char lead) {
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
    if (lead >= 0xC2) return 2;
    return 1;
}

class Converter {
  public:
    Converter() : cd_(iconv_open("GBK", "UTF-8")) {}
    ~Converter() {
        if (ok()) iconv_close(cd_);
    }
    Converter(const Converter&) = delete;
    Converter& operator=(const Converter&) = delete;
    bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }

    // One character (or one undecodable byte) at a time, so a failure costs only that character.
    void append(std::string_view utf8, std::string& out) {
        std::size_t i = 0;
        while (i < utf8.size()) {
            auto c = static_cast<unsigned char>(utf8[i]);
            if (c < 0x80) {
                out += static_cast<char>(c);
                ++i;
                continue;
            }
            std::size_t n = std::min(sequenceLength(c), utf8.size() - i);
            char in[4] = {};
            utf8.copy(in, n, i);
            char converted[8];
            char* inPtr = in;
            std::size_t inLeft = n;
            char* outPtr = converted;
            std::size_t outLeft = sizeof converted;
            iconv(cd_, nullptr, nullptr, nullptr, nullptr);
            if (n > 1 &&
                iconv(cd_, &inPtr, &inLeft, &outPtr, &outLeft) != static_cast<std::size_t>(-1) &&
                inLeft == 0) {
                out.append(converted, sizeof converted - outLeft);
            } else {
                out += '?';
            }
            i += n;
        }
    }

  private:
    iconv_t cd_;
};

}  // namespace

std::string toGbk(std::string_view utf8) {
    Converter conv;
    std::string out;
    if (!conv.ok()) {  // no GBK converter installed: ASCII survives, the rest is '?'
        for (char ch : utf8) {
            auto c = static_cast<unsigned char>(ch);
            if (c < 0x80)
                out += ch;
            else if ((c & 0xC0) != 0x80)
                out += '?';
        }
        return out;
    }
    conv.append(utf8, out);
    return out;
}

std::size_t copyOut(std::string_view gbk, char* out, std::size_t capacity) {
    if (out == nullptr || capacity == 0) return 0;
    const std::size_t room = capacity - 1;
    std::size_t n = 0;
    // Walk characters: a byte 0x81..0xFE starts a two-byte GBK character.
    while (n < gbk.size()) {
        auto c = static_cast<unsigned char>(gbk[n]);
        std::size_t len = (c >= 0x81 && c <= 0xFE && n + 1 < gbk.size()) ? 2 : 1;
        if (n + len > room) break;
        n += len;
    }
    gbk.copy(out, n);
    out[n] = '\0';
    return n;
}

void writeOut(std::string_view utf8, char* out) {
    copyOut(toGbk(utf8), out, SSCARD_DRIVER_OUT_SIZE);
}

}  // namespace sscard::driver
