#include <doctest/doctest.h>

#include "base/bytes.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"

using namespace sscard;

TEST_CASE("hex round trip, upper case, separators") {
    Bytes b{0x3B, 0x6D, 0x00, 0xFF};
    CHECK(toHex(b) == "3B6D00FF");
    CHECK(toHex(b, " ") == "3B 6D 00 FF");
    CHECK(fromHex("3b 6d:00-ff") == b);
    CHECK(fromHex("") == Bytes{});
}

TEST_CASE("hex rejects odd digits, stray characters and split bytes") {
    CHECK_FALSE(fromHex("ABC").has_value());
    CHECK_FALSE(fromHex("0G").has_value());
    CHECK_FALSE(fromHex("A B").has_value());
}

TEST_CASE("Expected carries a value or an error") {
    Expected<int, std::string> ok = 5;
    REQUIRE(ok);
    CHECK(*ok == 5);
    Expected<int, std::string> bad = unexpected(std::string("nope"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == "nope");
    Expected<void, Error> v;
    CHECK(v.has_value());
    Expected<void, Error> e = unexpected(makeError(ErrorCode::no_card, "x"));
    CHECK(e.error().code == ErrorCode::no_card);
}

TEST_CASE("every error code has a distinct name and a non-zero exit status") {
    CHECK(codeName(ErrorCode::card_removed) == "card_removed");
    CHECK(exitStatus(ErrorCode::usage) == 2);
    CHECK(exitStatus(ErrorCode::config) == 2);
    CHECK(exitStatus(ErrorCode::no_card) != 0);
    CHECK(exitStatus(ErrorCode::internal) == 1);
    for (auto code : {ErrorCode::usage, ErrorCode::feed_rejected, ErrorCode::internal}) {
        CHECK(codeFromName(codeName(code)) == code);
    }
    CHECK_FALSE(codeFromName("no_such_code").has_value());
}
