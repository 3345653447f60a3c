// libFuzzer target: parseConfig on arbitrary text must never crash, throw or hang, and an error
// must always name the source.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto result = sscard::parseConfig(text, "fuzz.toml");
    if (!result) {
        if (result.error().file != "fuzz.toml" || result.error().message.empty()) std::abort();
        (void)result.error().toString();
    } else if (result->list.poll_interval < std::chrono::seconds(1)) {
        std::abort();  // validation must hold for every accepted file
    }
    // Durations come from command lines too (sscard-feed publish --expires).
    auto d = sscard::parseDuration(text.substr(0, 64));
    if (d && *sscard::parseDuration(sscard::formatDuration(*d)) != *d) std::abort();
    return 0;
}
