#include <doctest/doctest.h>

#include "apdu/response.hpp"

using namespace sscard;
using namespace sscard::apdu;

TEST_CASE("response: data then SW1 SW2") {
    const Bytes raw{0x6F, 0x01, 0x84, 0x90, 0x00};
    auto r = ResponseApdu::parse(raw);
    REQUIRE(r);
    CHECK(r->data == Bytes{0x6F, 0x01, 0x84});
    CHECK(r->sw1 == 0x90);
    CHECK(r->sw2 == 0x00);
    CHECK(r->sw() == 0x9000);
    CHECK(r->ok());
    CHECK(r->encode() == raw);
}

TEST_CASE("response: status only, and too short") {
    auto r = ResponseApdu::parse(Bytes{0x63, 0xC2});
    REQUIRE(r);
    CHECK(r->data.empty());
    CHECK(r->sw() == 0x63C2);
    CHECK_FALSE(r->ok());

    auto one = ResponseApdu::parse(Bytes{0x90});
    REQUIRE_FALSE(one);
    CHECK(one.error().find("1 byte") != std::string::npos);
    CHECK_FALSE(ResponseApdu::parse(Bytes{}));
}
