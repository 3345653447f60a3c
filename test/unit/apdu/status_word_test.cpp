#include <doctest/doctest.h>

#include <cstdio>
#include <set>

#include "apdu/status_word.hpp"

using namespace sscard::apdu;

namespace {
bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("classify by SW1") {
    CHECK(classify(0x9000) == SwClass::success);
    CHECK(classify(0x6110) == SwClass::success);
    CHECK(classify(0x6281) == SwClass::warning);
    CHECK(classify(0x63C2) == SwClass::warning);
    CHECK(classify(0x6400) == SwClass::execution_error);
    CHECK(classify(0x6581) == SwClass::execution_error);
    CHECK(classify(0x6600) == SwClass::execution_error);
    CHECK(classify(0x6700) == SwClass::checking_error);
    CHECK(classify(0x6C10) == SwClass::checking_error);
    CHECK(classify(0x6F00) == SwClass::checking_error);
    CHECK(classify(0x9303) == SwClass::proprietary);
    CHECK(classify(0x9001) == SwClass::proprietary);
    CHECK(classify(0x0000) == SwClass::proprietary);
}

TEST_CASE("describe: the catalogue") {
    CHECK(describe(0x9000) == "success");
    CHECK(describe(0x63C2) == "wrong PIN, 2 tries left");
    CHECK(describe(0x63C1) == "wrong PIN, 1 try left");
    CHECK(contains(describe(0x63C0), "no tries left"));
    CHECK(describe(0x6A82) == "file or application not found");
    CHECK(describe(0x611C) == "success, 28 bytes available (GET RESPONSE)");
    CHECK(describe(0x6100) == "success, 256 bytes available (GET RESPONSE)");
    CHECK(contains(describe(0x6C0B), "11 bytes"));
    CHECK(contains(describe(0x9303), "permanently blocked"));
    CHECK(contains(describe(0x6983), "blocked"));
    CHECK(contains(describe(0x6982), "security status not satisfied"));
    CHECK(contains(describe(0x6A83), "record not found"));
    CHECK(contains(describe(0x6A86), "P1-P2"));
    CHECK(contains(describe(0x6D00), "instruction not supported"));
    CHECK(contains(describe(0x6E00), "class not supported"));
    CHECK(contains(describe(0x6700), "wrong length"));

    // Every listed word has its own text, none falls back to the class text.
    const std::uint16_t listed[] = {0x9000, 0x6281, 0x6282, 0x6283, 0x6400, 0x6581, 0x6700,
                                    0x6882, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6988,
                                    0x6A80, 0x6A81, 0x6A82, 0x6A83, 0x6A86, 0x6A88, 0x6B00,
                                    0x6D00, 0x6E00, 0x6F00, 0x9303};
    std::set<std::string> texts;
    for (std::uint16_t sw : listed) {
        const std::string text = describe(sw);
        CAPTURE(sw);
        CHECK_FALSE(text.empty());
        char word[8];
        std::snprintf(word, sizeof word, "(%04X)", static_cast<unsigned>(sw));
        CHECK_FALSE(contains(text, word));  // class texts end in "(XXXX)"; specific ones do not
        texts.insert(text);
    }
    CHECK(texts.size() == std::size(listed));
}

TEST_CASE("describe: class fallback for unknown words names the word") {
    CHECK(describe(0x6A8F) == "wrong parameters (6A8F)");
    CHECK(describe(0x6999) == "command not allowed (6999)");
    CHECK(describe(0x6212) == "warning: memory unchanged (6212)");
    CHECK(contains(describe(0x9405), "proprietary"));
    CHECK(contains(describe(0x1234), "not a valid status word"));
}

TEST_CASE("describe: pinpad words only in the PIN-entry context") {
    CHECK(contains(describe(0x6400, SwContext::pin_entry), "timed out"));
    CHECK(contains(describe(0x6401, SwContext::pin_entry), "cancelled"));
    CHECK(contains(describe(0x6402, SwContext::pin_entry), "differ"));
    CHECK(contains(describe(0x6403, SwContext::pin_entry), "length"));
    CHECK_FALSE(contains(describe(0x6400), "timed out"));
    CHECK_FALSE(contains(describe(0x6401), "cancelled"));
    CHECK(describe(0x6400, SwContext::general) == describe(0x6400));
    // Outside the pinpad words the context changes nothing.
    CHECK(describe(0x63C3, SwContext::pin_entry) == "wrong PIN, 3 tries left");
}

TEST_CASE("pinTriesLeft") {
    CHECK(pinTriesLeft(0x63C5) == 5);
    CHECK(pinTriesLeft(0x63C0) == 0);
    CHECK(pinTriesLeft(0x63CF) == 15);
    CHECK(pinTriesLeft(0x6300) == -1);
    CHECK(pinTriesLeft(0x6983) == -1);
    CHECK(pinTriesLeft(0x9000) == -1);
    CHECK(pinTriesLeft(0x62C2) == -1);
}
