#include <doctest/doctest.h>

#include <string>

#include "crypto/sha256.hpp"

using namespace sscard;

namespace {
ByteView view(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("SHA-256 of the empty string and of abc (FIPS 180-2)") {
    CHECK(crypto::sha256Hex({}) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(crypto::sha256Hex(view("abc")) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("SHA-256 incremental equals one-shot and resets after finish") {
    std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    crypto::Sha256 h;
    h.update(view(msg.substr(0, 10)));
    h.update(view(msg.substr(10)));
    auto d = h.finish();
    CHECK(crypto::toLowerHex(d) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    h.update(view("abc"));
    CHECK(crypto::toLowerHex(h.finish()) == crypto::sha256Hex(view("abc")));
}
