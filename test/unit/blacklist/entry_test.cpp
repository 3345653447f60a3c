#include <doctest/doctest.h>

#include "blacklist/entry.hpp"

using namespace sscard::blacklist;

namespace {
const char* kHeader = "region,card_number,card_id,state,effective_at,expires_at,replaced_by\n";
}

TEST_CASE("card_id keys: standard ids are compact and every id round-trips exactly") {
    auto k = encodeCardId("330300D15600000599110145FFFFFFFF");
    REQUIRE(k);
    CHECK(k->hi == 330300);
    CHECK(static_cast<std::uint64_t>(k->lo) == 0x99110145FFFFFFFFULL);
    CHECK(decodeCardId(*k) == "330300D15600000599110145FFFFFFFF");
    for (const char* id : {"639900D15600000500BF7C7A48FB4966", "000000D15600000500000000FFFFFFFF",
                           "0000000000000001AAAAAAAAAAAAAAAA", "00000000000F423F0000000000000000",
                           "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "33030AD156000005FFFFFFFFFFFFFFFF",
                           "330300D156000006FFFFFFFF00000000"}) {
        auto key = encodeCardId(id);
        REQUIRE(key);
        CHECK(decodeCardId(*key) == id);
    }
    // a non-standard id whose first 8 bytes are a small number must not collide with a region
    auto odd = encodeCardId("00000000000000010000000000000000");
    auto std1 = encodeCardId("000001D1560000050000000000000000");
    REQUIRE(odd);
    REQUIRE(std1);
    CHECK(odd->hi != std1->hi);
    CHECK(encodeCardId("330300d15600000599110145ffffffff")->hi == 330300);
    CHECK_FALSE(encodeCardId("330300D15600000599110145FFFFFFF"));
    CHECK_FALSE(encodeCardId("330300D15600000599110145FFFFFFFG"));
}

TEST_CASE("card number and region keys round-trip") {
    for (const char* n : {"B7K334774", "000000000", "ZZZZZZZZZ", "X00000019"}) {
        auto v = encodeCardNumber(n);
        REQUIRE(v);
        CHECK(decodeCardNumber(*v) == n);
    }
    CHECK_FALSE(encodeCardNumber("b7K334774"));
    CHECK_FALSE(encodeCardNumber("B7K33477"));
    CHECK(decodeRegion(*encodeRegion("010100")) == "010100");
    CHECK_FALSE(encodeRegion("33030"));
    CHECK_FALSE(encodeRegion("33030A"));
}

TEST_CASE("timestamps: ISO 8601 with offset") {
    CHECK(parseTimestamp("2026-11-20T10:00:00+08:00") == parseTimestamp("2026-11-20T02:00:00Z"));
    CHECK(parseTimestamp("1970-01-01T00:00:00Z") == 0);
    CHECK(parseTimestamp("2024-02-29T00:00:00Z"));
    CHECK_FALSE(parseTimestamp("2023-02-29T00:00:00Z"));
    CHECK_FALSE(parseTimestamp("2026-11-20T10:00:00"));
    CHECK_FALSE(parseTimestamp("2026-11-20 10:00:00+08:00"));
    CHECK_FALSE(parseTimestamp("2026-13-20T10:00:00Z"));
    CHECK(formatTimestamp(*parseTimestamp("2026-11-20T10:00:00+08:00")) == "2026-11-20T02:00:00Z");
    CHECK(formatTimestamp(-1) == "1969-12-31T23:59:59Z");
}

TEST_CASE("CSV import: the contract's example row") {
    std::string text =
        std::string(kHeader) +
        "330300,B7K334774,330300D15600000599110145FFFFFFFF,temp_frozen,2026-11-20T10:"
        "00:00+08:00,2026-11-27T10:00:00+08:00,\r\n";
    auto r = parseCsv(text);
    REQUIRE(r.ok());
    REQUIRE(r.records.size() == 1);
    Entry e = toEntry(r.records[0]);
    CHECK(e.region == "330300");
    CHECK(e.card_number == "B7K334774");
    CHECK(e.card_id == "330300D15600000599110145FFFFFFFF");
    CHECK(e.state == State::temp_frozen);
    CHECK(e.expires_at == parseTimestamp("2026-11-27T02:00:00Z"));
    CHECK_FALSE(e.replaced_by);
}

TEST_CASE("CSV import: errors carry line numbers") {
    std::string text = std::string(kHeader) +
                       "330300,B7K334774,,frozen,2026-11-20T10:00:00+08:00,,\n"       // 2 ok
                       "33030,B7K334774,,frozen,2026-11-20T10:00:00+08:00,,\n"        // 3 region
                       "330300,b7k334774,,frozen,2026-11-20T10:00:00+08:00,,\n"       // 4 number
                       "330300,KD5578904,XYZ,frozen,2026-11-20T10:00:00+08:00,,\n"    // 5 card_id
                       "330300,KD5578904,,lost,2026-11-20T10:00:00+08:00,,\n"         // 6 state
                       "330300,KD5578904,,frozen,2026-11-20 10:00,,\n"                // 7 time
                       "330300,KD5578904,,temp_frozen,2026-11-20T10:00:00+08:00,,\n"  // 8 no exp
                       "330300,B7K334774,,cancelled,2026-11-21T10:00:00+08:00,,\n"    // 9 dup of 2
                       "330300,R47708862,,replaced,2026-11-21T10:00:00+08:00,,BA0010547\n"  // 10 ok
                       "330300,R47708862,,frozen\n"  // 11 fields
                       "330300,548426015,,frozen,2026-11-21T10:00:00+08:00,,BA0010547\n";  // 12
    auto r = parseCsv(text);
    CHECK_FALSE(r.ok());
    std::vector<std::size_t> lines;
    for (const auto& p : r.problems) lines.push_back(p.line);
    CHECK(lines == std::vector<std::size_t>{3, 4, 5, 6, 7, 8, 9, 11, 12});
    CHECK(r.problems[6].message.find("duplicate") != std::string::npos);
    CHECK(r.problems[6].message.find("line 2") != std::string::npos);
}

TEST_CASE("CSV import: header required - same number with and without card_id is not a duplicate") {
    CHECK_FALSE(parseCsv("a,b\n").ok());
    CHECK_FALSE(parseCsv("").ok());
    std::string text = std::string(kHeader) +
                       "330300,B7K334774,,frozen,2026-11-20T10:00:00+08:00,,\n"
                       "330300,B7K334774,330300D15600000599110145FFFFFFFF,frozen,2026-11-20T10:00:"
                       "00+08:00,,\n";
    auto r = parseCsv(text);
    CHECK(r.ok());
    CHECK(r.records.size() == 2);
    CHECK(r.records[0].has_id);  // card_id entries sort first
}
