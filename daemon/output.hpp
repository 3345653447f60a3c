// How command-line results and failures are printed: text for people, one JSON document with
// --json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/error.hpp"

namespace sscard::daemon {

struct Output {
    bool json = false;

    // Prints the value as one line of JSON (invalid UTF-8 replaced, never thrown).
    void printJson(const nlohmann::json& value) const;
    // Prints a failure (text on stderr, or {"error":{…}} on stdout with --json) and returns the
    // exit status of its class.
    int fail(const Error& error) const;
};

std::string dumpJson(const nlohmann::json& value);

}  // namespace sscard::daemon
