// The one table from sscard's failures to the national interface's return codes
// (docs/driver.md#return-codes), with the text written to pOutInfo.
#pragma once

#include <string>

#include "driver/daemon_link.hpp"

namespace sscard::driver {

// The interface's codes the library returns.
enum ReturnCode : long {
    kOk = 0,
    kWrongCardType = -1,
    kNoCard = -2,
    kNoAnswer = -4,
    kOtherFailure = -5,
    kReaderLink = -11,
    kReaderBusy = -12,
    kNotAvailable = -13,
    kInternalAuthFailed = -21,
    kDataMismatch = -22,
    kBadInput = -23,
    kHsmDisagrees = -25,
    kPinpadCancelled = -31,
    kPinpadTimeout = -32,
    kPinpadLength = -33,
    kPinpadMismatch = -34,
    kPinPolicy = -36,
    kPinWrong = -51,
    kPinBlocked = -52,
    kNoPsam = -2201,
    kPsamAlgorithm = -2202,
    kNoReadKey = -2203,
};

struct Outcome {
    long code = kOk;
    std::string text;  // UTF-8; converted to GBK when written out
};

// The return code and text for a failure the service (or the link) reported.
Outcome outcomeOf(const Failure& failure);

// A card status word as the interface returns it: minus its value read as a decimal number
// (6A82 -> -27266).
long statusWordCode(unsigned sw);

}  // namespace sscard::driver
