// The technician's `sscardd diag` commands.
#pragma once

#include "config/config.hpp"

#include <optional>
#include <string>
#include <vector>

#include "apdu/reader.hpp"
#include "daemon/output.hpp"
#include "daemon/readers.hpp"

namespace sscard::daemon {

struct DiagOptions {
    Output out;
    std::optional<std::string> reader;  // --reader
    bool holder = false;                // --holder
    bool trace = false;                 // --trace: redacted APDU trace on stderr
    apdu::Interface prefer = apdu::Interface::contact;
    // [keys], for a 3rd-generation holder read (--holder): the PSAM or a lab key file.
    KeysConfig keys;
};

int diagReaders(ReaderDirectory& readers, const DiagOptions& options);
int diagRead(ReaderDirectory& readers, const DiagOptions& options);
// Sends each APDU verbatim in one transaction; with t0Fixups, 61xx/6Cxx are followed up.
int diagApdu(ReaderDirectory& readers, const DiagOptions& options,
             const std::vector<std::string>& apdus, bool t0Fixups);

// Connects to the chosen reader's card (named, or the one with a card).
Expected<std::unique_ptr<apdu::CardConnection>, Error> connectChosen(ReaderDirectory& readers,
                                                                     const DiagOptions& options);

}  // namespace sscard::daemon
