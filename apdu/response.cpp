#include "apdu/response.hpp"

namespace sscard::apdu {

Expected<ResponseApdu, std::string> ResponseApdu::parse(ByteView bytes) {
    if (bytes.size() < 2) {
        return unexpected("response APDU: " + std::to_string(bytes.size()) +
                          " byte(s), needs at least SW1 SW2");
    }
    ResponseApdu r;
    r.data.assign(bytes.begin(), bytes.end() - 2);
    r.sw1 = bytes[bytes.size() - 2];
    r.sw2 = bytes[bytes.size() - 1];
    return r;
}

Bytes ResponseApdu::encode() const {
    Bytes out;
    out.reserve(data.size() + 2);
    out.insert(out.end(), data.begin(), data.end());
    out.push_back(sw1);
    out.push_back(sw2);
    return out;
}

}  // namespace sscard::apdu
