// The software key file: refused unless enabled, a loud warning, the file format and permissions.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apdu/ssse/software_keys.hpp"
#include "test/unit/ssse/pin_fakes.hpp"

using namespace sscard;
using namespace sscard::ssse;
using namespace sscard::test;
using sscard::crypto::CardCipher;

TEST_CASE("software key source: refused unless enabled, warns loudly, checks the file") {
    std::string text = std::string("# lab keys\npuk sm4 3 ") + kSm4Master + "\n";
    auto refused = SoftwareKeySource::fromText(text, {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::config);
    std::vector<std::string> warnings;
    auto ok = SoftwareKeySource::fromText(text, enabled(&warnings));
    REQUIRE(ok);
    REQUIRE_FALSE(warnings.empty());
    CHECK(warnings[0].find("SOFTWARE KEY FILE") != std::string::npos);
    CHECK_FALSE(SoftwareKeySource::fromText("puk sm4 3 0011", enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("puk aes 3 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("pin sm4 3 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("puk sm4 4 " + std::string(kSm4Master), enabled()));
    CHECK_FALSE(SoftwareKeySource::fromText("# nothing\n", enabled()));

    char path[] = "/tmp/sscard-keys-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    chmod(path, 0600);
    CHECK(SoftwareKeySource::load(path, enabled()));
    CHECK_FALSE(SoftwareKeySource::load(path, {}));
    chmod(path, 0644);
    auto open = SoftwareKeySource::load(path, enabled());
    REQUIRE_FALSE(open);
    CHECK(open.error().message.find("chmod 600") != std::string::npos);
    std::remove(path);
}
