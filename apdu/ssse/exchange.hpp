// One command to the card with its failure as a contract Error, and a command whose data is secret:
// the small pieces every PIN and key module sends commands with.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "apdu/command.hpp"
#include "apdu/response.hpp"
#include "apdu/transport.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::ssse {

// A command whose data is secret: the Bytes holding it are wiped when it goes out of scope.
struct SecretCommand {
    apdu::CommandApdu apdu;
    ~SecretCommand();
};

// transmit(), with a transport failure turned into the contract's Error (apdu/outcome.hpp).
Expected<apdu::ResponseApdu, Error> send(apdu::Transaction& tx, const apdu::CommandApdu& command,
                                         std::string_view step);

// "6A88": a status word as four hex digits, for messages.
std::string swHex(std::uint16_t sw);

}  // namespace sscard::ssse
