// The random source: real bytes, and a failure reported as an error, never zeros.
#include <doctest/doctest.h>

#include <algorithm>

#include "crypto/hmac.hpp"
#include "crypto/random.hpp"
#include "crypto/sha256.hpp"

using namespace sscard;

TEST_CASE("randomBytes: the requested length, and two draws differ") {
    auto a = crypto::randomBytes(32);
    auto b = crypto::randomBytes(32);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->size() == 32);
    CHECK(*a != *b);
}

TEST_CASE("randomBytes: a failing source is an internal error, not a buffer of zeros") {
    crypto::setRandomSourceForTesting([](std::uint8_t* out, std::size_t n) {
        std::fill(out, out + n, 0xAA);  // a half-written buffer must not leak out either
        return false;
    });
    auto r = crypto::randomBytes(16);
    crypto::setRandomSourceForTesting({});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::internal);
    CHECK(crypto::randomBytes(16));  // restored
}

TEST_CASE("hmacSha256: RFC 4231 test case 2") {
    std::string key = "Jefe";
    auto mac =
        crypto::hmacSha256(ByteView(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()),
                           "what do ya want for nothing?");
    REQUIRE(mac);
    CHECK(crypto::toLowerHex(*mac) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
