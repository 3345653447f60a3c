#include <doctest/doctest.h>

#include "blacklist/codec.hpp"
#include "test/unit/blacklist/list_gen.hpp"

using namespace sscard;
using namespace sscard::blacklist;

TEST_CASE("snapshot encode/decode round trip - including odd card_ids and negative keys") {
    auto list = testgen::makeList(20000);
    Record odd;
    odd.has_id = true;
    odd.id = *encodeCardId("FFFFFFFFFFFFFFFF8000000000000001");
    odd.region = 999999;
    odd.number = *encodeCardNumber("ZZZZZZZZZ");
    odd.effective_at = -100;
    list.push_back(odd);
    Record odd2 = odd;
    odd2.id = *encodeCardId("00000000000000010000000000000000");
    odd2.region = 0;
    list.push_back(odd2);
    std::sort(list.begin(), list.end(), keyLess);
    Bytes file = encodeSnapshot(7, list);
    auto back = decodeSnapshot(file);
    REQUIRE(back);
    CHECK(*back == list);
    MESSAGE("bytes/entry at 20k: " << static_cast<double>(file.size()) / list.size());
}

TEST_CASE("delta round trip: removals then upserts rebuild the new list") {
    auto a = testgen::makeList(5000);
    auto b = testgen::mutate(a, 300);
    std::vector<Record> rem, ups;
    diffRecords(a, b, rem, ups);
    Bytes file = encodeDelta(8, 7, rem, ups);
    std::vector<Record> got_rem, got_ups;
    DecodeSink sink;
    sink.removal = [&](const Record& r) -> Expected<void, Error> {
        got_rem.push_back(r);
        return {};
    };
    sink.upsert = [&](const Record& r) -> Expected<void, Error> {
        got_ups.push_back(r);
        return {};
    };
    auto h = decode(file, sink);
    REQUIRE(h);
    CHECK(h->kind == FileKind::delta);
    CHECK(h->base_version == 7);
    CHECK(got_ups == ups);
    REQUIRE(got_rem.size() == rem.size());
    for (std::size_t i = 0; i < rem.size(); ++i) CHECK(compareKeys(got_rem[i], rem[i]) == 0);
}

TEST_CASE("decoder refuses truncation - trailing data - bad headers and flipped bytes") {
    auto list = testgen::makeList(500);
    Bytes file = encodeSnapshot(3, list);
    CHECK_FALSE(decodeSnapshot(ByteView(file).first(file.size() - 1)));
    Bytes longer = file;
    longer.push_back(0);
    CHECK_FALSE(decodeSnapshot(longer));
    Bytes bad = file;
    bad[0] = 'X';
    CHECK_FALSE(decodeSnapshot(bad));
    bad = file;
    bad[30] = 0xFF;  // upsert count
    CHECK_FALSE(decodeSnapshot(bad));
    int refused = 0;
    for (std::size_t i = kHeaderSize; i < file.size(); i += 7) {
        bad = file;
        bad[i] ^= 0x5A;
        auto r = decodeSnapshot(bad);
        if (!r || *r != list) ++refused;
        // zlib's adler32 catches what the structure does not
        CHECK_FALSE(r.has_value());
    }
    CHECK(refused > 0);
}
