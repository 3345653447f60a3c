#include "apdu/tlv.hpp"

#include <cstdio>

namespace sscard::apdu {

namespace {

constexpr int kMaxBerDepth = 8;  // nesting levels of constructed objects
constexpr std::size_t kMaxTagBytes = 3;

std::string hexTag(std::uint32_t tag) {
    char buf[12];
    if (tag > 0xFFFF) {
        std::snprintf(buf, sizeof buf, "%06X", static_cast<unsigned>(tag));
    } else if (tag > 0xFF) {
        std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(tag));
    } else {
        std::snprintf(buf, sizeof buf, "%02X", static_cast<unsigned>(tag));
    }
    return buf;
}

std::string at(std::size_t offset) {
    return " at offset " + std::to_string(offset);
}

bool isPadding(std::uint8_t b) {
    return b == 0x00 || b == 0xFF;
}

// Parses bytes[begin, end) of `whole` (offsets in messages are relative to `whole`).
Expected<std::vector<BerTlv>, std::string> parseBerRange(ByteView whole, std::size_t begin,
                                                         std::size_t end, int depth) {
    std::vector<BerTlv> out;
    std::size_t pos = begin;
    while (pos < end) {
        if (isPadding(whole[pos])) {  // ISO 7816-4: 00/FF may sit before, between, after objects
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        const std::uint8_t first = whole[pos++];
        std::uint32_t tag = first;
        if ((first & 0x1F) == 0x1F) {
            std::size_t tagBytes = 1;
            std::uint8_t next = 0;
            do {
                if (pos >= end) {
                    return unexpected("BER-TLV: tag cut short" + at(start));
                }
                if (++tagBytes > kMaxTagBytes) {
                    return unexpected("BER-TLV: tag longer than 3 bytes" + at(start));
                }
                next = whole[pos++];
                tag = (tag << 8) | next;
            } while (next & 0x80);
        }
        if (pos >= end) {
            return unexpected("BER-TLV: tag " + hexTag(tag) + " has no length" + at(start));
        }
        const std::uint8_t lenByte = whole[pos++];
        std::size_t len = 0;
        if (lenByte < 0x80) {
            len = lenByte;
        } else if (lenByte == 0x80) {
            return unexpected("BER-TLV: tag " + hexTag(tag) + " has indefinite length (80)" +
                              at(start));
        } else if (lenByte <= 0x83) {
            const std::size_t count = lenByte & 0x7F;
            if (end - pos < count) {
                return unexpected("BER-TLV: length of tag " + hexTag(tag) + " cut short" +
                                  at(start));
            }
            for (std::size_t i = 0; i < count; ++i) len = (len << 8) | whole[pos++];
        } else {
            return unexpected("BER-TLV: tag " + hexTag(tag) + " has an unsupported length form " +
                              hexTag(lenByte) + at(start));
        }
        if (end - pos < len) {
            return unexpected("BER-TLV: tag " + hexTag(tag) + " needs " + std::to_string(len) +
                              " byte(s), only " + std::to_string(end - pos) + " left" + at(start));
        }
        BerTlv obj;
        obj.tag = tag;
        obj.constructed = (first & 0x20) != 0;
        const auto valueBegin = whole.begin() + static_cast<std::ptrdiff_t>(pos);
        obj.value.assign(valueBegin, valueBegin + static_cast<std::ptrdiff_t>(len));
        if (obj.constructed) {
            if (depth >= kMaxBerDepth) {
                return unexpected("BER-TLV: nested deeper than " + std::to_string(kMaxBerDepth) +
                                  " levels" + at(start));
            }
            auto children = parseBerRange(whole, pos, pos + len, depth + 1);
            if (!children) return unexpected(std::move(children).error());
            obj.children = std::move(*children);
        }
        pos += len;
        out.push_back(std::move(obj));
    }
    return out;
}

}  // namespace

Expected<std::vector<SimpleTlv>, std::string> parseSimpleTlv(ByteView bytes) {
    std::vector<SimpleTlv> out;
    const std::size_t n = bytes.size();
    std::size_t pos = 0;
    while (pos < n) {
        const std::uint8_t tag = bytes[pos];
        if (isPadding(tag)) {
            ++pos;
            continue;
        }
        const std::size_t start = pos;
        if (n - pos < 2) {
            return unexpected("simple TLV: tag " + hexTag(tag) + " has no length" + at(start));
        }
        std::size_t len = bytes[pos + 1];
        std::size_t header = 2;
        if (len == 0xFF) {
            if (n - pos < 4) {
                return unexpected("simple TLV: 3-byte length of tag " + hexTag(tag) + " cut short" +
                                  at(start));
            }
            len = (static_cast<std::size_t>(bytes[pos + 2]) << 8) | bytes[pos + 3];
            header = 4;
        }
        if (n - pos - header < len) {
            return unexpected("simple TLV: tag " + hexTag(tag) + " needs " + std::to_string(len) +
                              " byte(s), only " + std::to_string(n - pos - header) + " left" +
                              at(start));
        }
        SimpleTlv obj;
        obj.tag = tag;
        const auto valueBegin = bytes.begin() + static_cast<std::ptrdiff_t>(pos + header);
        obj.value.assign(valueBegin, valueBegin + static_cast<std::ptrdiff_t>(len));
        out.push_back(std::move(obj));
        pos += header + len;
    }
    return out;
}

Expected<std::vector<BerTlv>, std::string> parseBerTlv(ByteView bytes) {
    return parseBerRange(bytes, 0, bytes.size(), 0);
}

const BerTlv* BerTlv::find(std::uint32_t wanted) const {
    if (tag == wanted) return this;
    return findBerTlv(children, wanted);
}

const BerTlv* findBerTlv(const std::vector<BerTlv>& objects, std::uint32_t wanted) {
    for (const BerTlv& obj : objects) {
        if (const BerTlv* hit = obj.find(wanted)) return hit;
    }
    return nullptr;
}

}  // namespace sscard::apdu
