#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/ed25519.hpp"

using namespace sscard;

TEST_CASE("Ed25519 RFC 8032 test vector 1: public key and signature of the empty message") {
    auto secret = *fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    auto pub = crypto::ed25519PublicFromSecret(secret);
    REQUIRE(pub);
    CHECK(toHex(*pub) == "D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A");
    auto sig = crypto::ed25519Sign(secret, {});
    REQUIRE(sig);
    CHECK(toHex(*sig) ==
          "E5564300C360AC729086E2CC806E828A84877F1EB8E5D974D873E065224901555FB8821590A33BACC61E39"
          "701CF9B46BD25BF5F0595BBE24655141438E7A100B");
    CHECK(crypto::ed25519Verify(*pub, {}, *sig));
    Bytes bad = *sig;
    bad[0] ^= 1;
    CHECK_FALSE(crypto::ed25519Verify(*pub, {}, bad));
    Bytes msg{0x00};
    CHECK_FALSE(crypto::ed25519Verify(*pub, msg, *sig));
    CHECK_FALSE(crypto::ed25519Verify(Bytes(31), {}, *sig));
}

TEST_CASE("Ed25519 generated keys sign and verify - PEM files round trip - private file is 0600") {
    auto kp = crypto::ed25519Generate();
    REQUIRE(kp);
    Bytes msg{1, 2, 3};
    auto sig = crypto::ed25519Sign(kp->secret, msg);
    REQUIRE(sig);
    CHECK(crypto::ed25519Verify(kp->public_key, msg, *sig));

    auto dir =
        std::filesystem::temp_directory_path() / ("sscard-ed25519-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ::umask(0);
    REQUIRE(crypto::writeEd25519PrivateKey(dir / "k.key", kp->secret));
    REQUIRE(crypto::writeEd25519PublicKey(dir / "k.pub", kp->public_key));
    ::umask(022);
    struct stat st {};
    REQUIRE(::stat((dir / "k.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(crypto::writeEd25519PrivateKey(dir / "k.key", kp->secret));  // no overwrite
    auto sec = crypto::readEd25519PrivateKey(dir / "k.key");
    auto pub = crypto::readEd25519PublicKey(dir / "k.pub");
    REQUIRE(sec);
    REQUIRE(pub);
    CHECK(*sec == kp->secret);
    CHECK(*pub == kp->public_key);
    CHECK_FALSE(crypto::readEd25519PublicKey(dir / "k.key"));
    CHECK_FALSE(crypto::readEd25519PublicKey(dir / "missing"));
    std::filesystem::remove_all(dir);
}
