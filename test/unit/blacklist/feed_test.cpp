#include <doctest/doctest.h>

#include "blacklist/feed.hpp"
#include "blacklist/publish.hpp"
#include "crypto/ed25519.hpp"

using namespace sscard;
using namespace sscard::blacklist;

TEST_CASE("signed top file: verifies with a trusted key - refuses tampering and unknown keys") {
    auto k1 = *crypto::ed25519Generate();
    auto k2 = *crypto::ed25519Generate();
    TopFile t;
    t.version = 12;
    t.issued = 1'700'000'000;
    t.expires = 1'700'086'400;
    t.manifest.sha256 = std::string(64, 'a');
    t.manifest.length = 321;
    auto text = signDocument(toSignedJson(t), {{k1.secret, k1.public_key}});
    REQUIRE(text);
    std::vector<TrustedKey> trust1{{keyId(k1.public_key), k1.public_key}};
    std::vector<TrustedKey> trust2{{keyId(k2.public_key), k2.public_key}};
    auto v = verifyDocument(*text, trust1, "timestamp");
    REQUIRE(v);
    auto back = parseTopFile(v->signed_part);
    REQUIRE(back);
    CHECK(back->version == 12);
    CHECK(back->manifest.length == 321);
    CHECK_FALSE(verifyDocument(*text, trust2, "timestamp"));
    CHECK_FALSE(verifyDocument(*text, trust1, "manifest"));
    std::string tampered = *text;
    tampered.replace(tampered.find("\"version\": 12"), 13, "\"version\": 99");
    CHECK_FALSE(verifyDocument(tampered, trust1, "timestamp"));
    // key rotation: signed by both, accepted by terminals trusting either
    auto both =
        signDocument(toSignedJson(t), {{k1.secret, k1.public_key}, {k2.secret, k2.public_key}});
    REQUIRE(both);
    CHECK(verifyDocument(*both, trust1, "timestamp"));
    CHECK(verifyDocument(*both, trust2, "timestamp"));
}

TEST_CASE("durations") {
    CHECK(parseDuration("24h") == 86400);
    CHECK(parseDuration("1h30m") == 5400);
    CHECK(parseDuration("7d") == 7 * 86400);
    CHECK(parseDuration("90s") == 90);
    CHECK_FALSE(parseDuration("24"));
    CHECK_FALSE(parseDuration("h"));
    CHECK_FALSE(parseDuration("5w"));
}
