#include "apdu/ssse/exchange.hpp"

#include <cstdio>

#include "apdu/outcome.hpp"
#include "crypto/wipe.hpp"

namespace sscard::ssse {

SecretCommand::~SecretCommand() {
    crypto::wipe(apdu.data);
}

Expected<apdu::ResponseApdu, Error> send(apdu::Transaction& tx, const apdu::CommandApdu& command,
                                         std::string_view step) {
    auto r = tx.transmit(command);
    if (!r) return unexpected(apdu::fromTransport(r.error(), step));
    return std::move(*r);
}

std::string swHex(std::uint16_t sw) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", sw);
    return hex;
}

}  // namespace sscard::ssse
