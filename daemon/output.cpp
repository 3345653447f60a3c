#include "daemon/output.hpp"

#include <cstdio>
#include <iostream>

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
        nlohmann::json e{{"code", codeName(error.code)}, {"message", error.message}};
        if (error.tries_left) e["tries_left"] = *error.tries_left;
        if (error.pin_state) e["pin_state"] = *error.pin_state;
        printJson(nlohmann::json{{"error", e}});
    } else {
        std::fprintf(stderr, "sscardd: %s\n", error.message.c_str());
    }
    return exitStatus(error.code);
}

}  // namespace sscard::daemon
