#include "apdu/command.hpp"

#include <stdexcept>

namespace sscard::apdu {

namespace {

constexpr std::size_t kMaxShortLc = 255;
constexpr std::size_t kMaxShortLe = 256;
constexpr std::size_t kMaxExtendedLc = 65535;
constexpr std::size_t kMaxExtendedLe = 65536;

void pushU16(Bytes& out, std::size_t value) {
    out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFF));
    out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

std::size_t readU16(ByteView bytes, std::size_t offset) {
    return (static_cast<std::size_t>(bytes[offset]) << 8) | bytes[offset + 1];
}

std::string parseError(std::string message) {
    return "command APDU: " + std::move(message);
}

}  // namespace

Bytes CommandApdu::encode() const {
    if (data.size() > kMaxExtendedLc) {
        throw std::length_error("CommandApdu: " + std::to_string(data.size()) +
                                " data bytes, at most 65535 fit in Lc");
    }
    if (le && (*le == 0 || *le > kMaxExtendedLe)) {
        throw std::length_error("CommandApdu: Le " + std::to_string(*le) + " outside 1..65536");
    }
    const bool ext = extended || data.size() > kMaxShortLc || (le && *le > kMaxShortLe);

    Bytes out{cla, ins, p1, p2};
    out.reserve(4 + 3 + data.size() + 2);
    if (!data.empty()) {
        if (ext) {
            out.push_back(0x00);
            pushU16(out, data.size());
        } else {
            out.push_back(static_cast<std::uint8_t>(data.size()));
        }
        out.insert(out.end(), data.begin(), data.end());
    }
    if (le) {
        if (ext) {
            // Case 2E has its own 00 marker; in case 4E the Lc field already carries it.
            if (data.empty()) out.push_back(0x00);
            pushU16(out, *le == kMaxExtendedLe ? 0 : *le);
        } else {
            out.push_back(static_cast<std::uint8_t>(*le == kMaxShortLe ? 0 : *le));
        }
    }
    return out;
}

Expected<CommandApdu, std::string> CommandApdu::parse(ByteView bytes) {
    const std::size_t n = bytes.size();
    if (n < 4) {
        return unexpected(parseError(std::to_string(n) + " byte(s), a header needs 4"));
    }
    CommandApdu cmd;
    cmd.cla = bytes[0];
    cmd.ins = bytes[1];
    cmd.p1 = bytes[2];
    cmd.p2 = bytes[3];
    if (n == 4) return cmd;  // case 1

    const std::size_t b4 = bytes[4];
    if (n == 5) {  // case 2S
        cmd.le = b4 == 0 ? kMaxShortLe : b4;
        return cmd;
    }

    if (b4 != 0) {  // case 3S or 4S
        const std::size_t lc = b4;
        if (n == 5 + lc) {
            cmd.data.assign(bytes.begin() + 5, bytes.end());
            return cmd;
        }
        if (n == 6 + lc) {
            cmd.data.assign(bytes.begin() + 5, bytes.begin() + 5 + static_cast<std::ptrdiff_t>(lc));
            const std::size_t le = bytes[n - 1];
            cmd.le = le == 0 ? kMaxShortLe : le;
            return cmd;
        }
        if (n < 5 + lc) {
            return unexpected(parseError("Lc " + std::to_string(lc) + " but only " +
                                         std::to_string(n - 5) + " data bytes"));
        }
        return unexpected(parseError("Lc " + std::to_string(lc) + " but " + std::to_string(n - 5) +
                                     " bytes follow it (expected Lc or Lc + 1)"));
    }

    // b4 == 00 with more bytes after it: extended length.
    cmd.extended = true;
    if (n < 7) {
        return unexpected(parseError(std::to_string(n) +
                                     " bytes: an extended length field (00 xx xx) is cut short"));
    }
    if (n == 7) {  // case 2E
        const std::size_t le = readU16(bytes, 5);
        cmd.le = le == 0 ? kMaxExtendedLe : le;
        return cmd;
    }
    const std::size_t lc = readU16(bytes, 5);
    if (lc == 0) {
        return unexpected(
            parseError("extended Lc 0 followed by " + std::to_string(n - 7) + " more bytes"));
    }
    if (n == 7 + lc) {  // case 3E
        cmd.data.assign(bytes.begin() + 7, bytes.end());
        return cmd;
    }
    if (n == 9 + lc) {  // case 4E
        cmd.data.assign(bytes.begin() + 7, bytes.begin() + 7 + static_cast<std::ptrdiff_t>(lc));
        const std::size_t le = readU16(bytes, n - 2);
        cmd.le = le == 0 ? kMaxExtendedLe : le;
        return cmd;
    }
    if (n < 7 + lc) {
        return unexpected(parseError("extended Lc " + std::to_string(lc) + " but only " +
                                     std::to_string(n - 7) + " data bytes"));
    }
    return unexpected(parseError("extended Lc " + std::to_string(lc) + " but " +
                                 std::to_string(n - 7) +
                                 " bytes follow it (expected Lc or Lc + 2)"));
}

CommandApdu selectByName(ByteView dfName, std::optional<std::size_t> le) {
    CommandApdu cmd;
    cmd.cla = 0x00;
    cmd.ins = 0xA4;
    cmd.p1 = 0x04;
    cmd.p2 = 0x00;
    cmd.data.assign(dfName.begin(), dfName.end());
    cmd.le = le;
    return cmd;
}

CommandApdu selectByFid(std::uint16_t fid) {
    CommandApdu cmd;
    cmd.cla = 0x00;
    cmd.ins = 0xA4;
    cmd.p1 = 0x00;
    cmd.p2 = 0x00;
    cmd.data = {static_cast<std::uint8_t>(fid >> 8), static_cast<std::uint8_t>(fid & 0xFF)};
    return cmd;
}

CommandApdu readRecord(std::uint8_t p1, std::uint8_t p2, std::size_t le) {
    CommandApdu cmd;
    cmd.cla = 0x00;
    cmd.ins = 0xB2;
    cmd.p1 = p1;
    cmd.p2 = p2;
    cmd.le = le;
    return cmd;
}

CommandApdu getResponse(std::size_t le) {
    CommandApdu cmd;
    cmd.cla = 0x00;
    cmd.ins = 0xC0;
    cmd.le = le;
    return cmd;
}

}  // namespace sscard::apdu
