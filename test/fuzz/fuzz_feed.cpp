// libFuzzer target for the list feed's parsers: the signed top file and manifest (envelope, then
// the typed fields), the binary snapshot/delta decoder, and the CSV import. The first byte picks
// the parser; the rest is its input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "blacklist/codec.hpp"
#include "blacklist/entry.hpp"
#include "blacklist/feed.hpp"

using namespace sscard;
using namespace sscard::blacklist;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint8_t which = data[0] % 4;
    ByteView rest(data + 1, size - 1);
    std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
    switch (which) {
        case 0: {
            auto env = parseEnvelope(text, "timestamp");
            if (env) (void)parseTopFile((*env)["signed"]);
            (void)verifyDocument(text, {TrustedKey{std::string(64, '0'), Bytes(32, 1)}},
                                 "timestamp");
            break;
        }
        case 1: {
            auto env = parseEnvelope(text, "manifest");
            if (env) (void)parseManifest((*env)["signed"]);
            break;
        }
        case 2: {
            DecodeSink sink;  // count only
            std::size_t n = 0;
            sink.upsert = [&](const Record& r) -> Expected<void, Error> {
                ++n;
                (void)toEntry(r);
                return {};
            };
            sink.removal = [&](const Record&) -> Expected<void, Error> {
                ++n;
                return {};
            };
            (void)decode(rest, sink);
            break;
        }
        default:
            (void)parseCsv(text, 10);
            break;
    }
    return 0;
}
