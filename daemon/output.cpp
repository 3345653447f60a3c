#include "daemon/output.hpp"

#include <cstdio>
#include <iostream>

#include "daemon/error_json.hpp"

namespace sscard::daemon {

std::string dumpJson(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Output::printJson(const nlohmann::json& value) const {
    std::string line = dumpJson(value);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

int Output::fail(const Error& error) const {
    if (json) {
        printJson(nlohmann::json{{"error", errorJson(error)}});
    } else {
        std::fprintf(stderr, "sscardd: %s\n", error.message.c_str());
    }
    return exitStatus(error.code);
}

}  // namespace sscard::daemon
