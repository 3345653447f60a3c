// libSSCardDriver's pieces without a daemon: the error table, the layouts, GBK output and its
// bounds, the reader choice by iType, the card information of iReloadPIN/iUnblockPIN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.hpp"
#include "driver/SSCardDriver.h"
#include "driver/card_fields.hpp"
#include "driver/error_table.hpp"
#include "driver/gbk_output.hpp"
#include "driver/reader_choice.hpp"

using namespace sscard::driver;
using nlohmann::json;

namespace {

Failure failure(const char* code) {
    return makeFailure(code, "");
}

}  // namespace

TEST_CASE("every failure class of the contract has its own row, never the fallback by accident") {
    // The fallback (-5) is chosen on purpose for these; every other class maps elsewhere.
    const std::string onPurpose[] = {"card_denied", "list_unavailable", "config",
                                     "sync_failed", "feed_rejected",    "internal"};
    for (int i = 0; i <= static_cast<int>(sscard::ErrorCode::internal); ++i) {
        std::string name(sscard::codeName(static_cast<sscard::ErrorCode>(i)));
        Outcome o = outcomeOf(failure(name.c_str()));
        CAPTURE(name);
        CHECK(o.code < 0);
        CHECK(o.text != "操作失败");  // the text of a code the table does not know
        bool fallback =
            std::find(std::begin(onPurpose), std::end(onPurpose), name) != std::end(onPurpose);
        CHECK((o.code == kOtherFailure) == fallback);
    }
    CHECK(outcomeOf(failure("not_ssse_card")).code == -1);
    CHECK(outcomeOf(failure("no_card")).code == -2);
    CHECK(outcomeOf(failure("card_removed")).code == -4);
    CHECK(outcomeOf(failure("no_reader")).code == -11);
    CHECK(outcomeOf(failure("daemon_unreachable")).code == -11);
    CHECK(outcomeOf(failure("busy")).code == -12);
    CHECK(outcomeOf(failure("not_allowed")).code == -13);
    CHECK(outcomeOf(failure("usage")).code == -23);
    CHECK(outcomeOf(failure("pin_weak")).code == -36);
    CHECK(outcomeOf(failure("pin_wrong")).code == -51);
    CHECK(outcomeOf(failure("pin_blocked")).code == -52);
    CHECK(outcomeOf(failure("read_key_required")).code == -2203);
    CHECK(outcomeOf(failure("card_not_genuine")).code == -25);
    CHECK(outcomeOf(failure("a_code_from_a_newer_sscardd")).code == -5);
}

TEST_CASE("a card status word is minus its value read as a decimal number") {
    CHECK(statusWordCode(0x6A82) == -27266);
    CHECK(statusWordCode(0x6983) == -27011);
    CHECK(statusWordCode(0x9303) == -37635);
    Failure f = makeFailure("card_error", "VERIFY: card answered 6581");
    f.sw = 0x6581;
    Outcome o = outcomeOf(f);
    CHECK(o.code == -25985);
    CHECK(o.text.find("VERIFY: card answered 6581") != std::string::npos);
}

TEST_CASE("PIN pad status words are the interface's PIN pad codes") {
    const std::pair<unsigned, long> pad[] = {
        {0x6401, -31}, {0x6400, -32}, {0x6403, -33}, {0x6402, -34}};
    for (auto [sw, code] : pad) {
        Failure f = makeFailure("card_error", "pinpad");
        f.sw = static_cast<std::uint16_t>(sw);
        CHECK(outcomeOf(f).code == code);
    }
}

TEST_CASE("the service's finer PSAM causes have codes of their own") {
    const std::pair<const char*, long> reasons[] = {
        {"no_psam", -2201}, {"psam_algorithm", -2202}, {"psam_no_key", -2203}};
    for (auto [reason, code] : reasons) {
        Failure f = makeFailure("read_key_required", "");
        f.reason = reason;
        CHECK(outcomeOf(f).code == code);
    }
    Failure other = makeFailure("read_key_required", "");
    other.reason = "something_else";
    CHECK(outcomeOf(other).code == -2203);
}

TEST_CASE("a wrong PIN's text carries the tries left") {
    Failure f = makeFailure("pin_wrong", "");
    f.tries_left = 2;
    Outcome o = outcomeOf(f);
    CHECK(o.code == -51);
    CHECK(o.text == "密码错误,剩余2次");
}

TEST_CASE("historical bytes are found after the interface bytes") {
    // contact T=1: 3B 8D 81 31 FE 45 <13 hist> TCK (TD1 81, TD2 31: TA3 TB3, then 13 bytes)
    CHECK(historicalBytes("3B8D8131FE4500814E4323869715330010025500") ==
          "00814E43238697153300100255");
    // contactless pseudo-ATR 3B 8D 80 01 <13 hist> TCK
    CHECK(historicalBytes("3B8D800100814E432386971533001002551A") == "00814E43238697153300100255");
    // T=0 without interface bytes: 3B 0D <13 hist>
    CHECK(historicalBytes("3B0D00814E43238697153300100255") == "00814E43238697153300100255");
    CHECK(historicalBytes("3B8D80") == "");  // cut short
    CHECK(historicalBytes("zz") == "");
}

TEST_CASE("iReadCardBas's eleven fields from card.read's answer") {
    json read = json::parse(R"({"reader":"Virtual PCD 00 00","interface":"contact",
        "atr":"3B6D000000814E43238697159900BF7C7A",
        "card":{"card_id":"639900D15600000500BF7C7A48FB4966","region":"639900","card_number":"X00000019",
                "spec_version":"1.00","issued_on":"2010-10-01","expires_on":"2020-10-01"},
        "holder":{"ssn":"111111198101011110","name":"张三"}})");
    std::string text = basicCardText(read, {"410100813475", "Virtual PCD 00 00"});
    CHECK(text ==
          "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|"
          "00814E43238697159900BF7C7A|1.00|20101001|20201001|410100813475|Virtual PCD 00 00|");
    // Without holder data and with nulls the layout keeps its eleven fields.
    json bare = json::parse(R"({"atr":null,"card":{"card_id":null,"card_number":"A|B"}})");
    std::string empty = basicCardText(bare, {});
    CHECK(empty == "||A B|||||||||");
    CHECK(std::count(empty.begin(), empty.end(), '|') == 11);
}

TEST_CASE("output is GBK and never longer than the buffer, cut on a character boundary") {
    CHECK(toGbk("张三|A") == std::string("\xD5\xC5\xC8\xFD|A"));
    CHECK(toGbk("\xF0\x9F\x98\x80") == "?");  // outside GBK
    CHECK(toGbk("\xFF") == "?");              // not UTF-8
    char buf[8];
    std::memset(buf, 'x', sizeof buf);
    CHECK(copyOut("\xD5\xC5\xC8\xFD\xD5\xC5\xC8\xFD", buf, 6) == 4);  // 5 would split a character
    CHECK(std::string(buf) == "\xD5\xC5\xC8\xFD");
    CHECK(buf[6] == 'x');
    CHECK(copyOut("abc", buf, 1) == 0);
    CHECK(buf[0] == '\0');
    CHECK(copyOut("abc", nullptr, 8) == 0);
    // writeOut stops at SSCARD_DRIVER_OUT_SIZE including the NUL.
    std::string big(SSCARD_DRIVER_OUT_SIZE + 100, 'a');
    std::string out(SSCARD_DRIVER_OUT_SIZE + 16, 'z');
    writeOut(big, out.data());
    CHECK(std::strlen(out.c_str()) == SSCARD_DRIVER_OUT_SIZE - 1);
    CHECK(out[SSCARD_DRIVER_OUT_SIZE] == 'z');
}

TEST_CASE("iType chooses the reader - the PSAM's slot is never one") {
    json readers = json::parse(R"([
        {"name":"SAM","interface":"contact","card_present":true,"sam_slot":true},
        {"name":"C0","interface":"contact","card_present":false},
        {"name":"C1","interface":"contact","card_present":true},
        {"name":"L0","interface":"contactless","card_present":true}])");
    CHECK(*chooseReader(1, readers) == "C1");
    CHECK(*chooseReader(2, readers) == "L0");
    CHECK(*chooseReader(3, readers) == "C1");
    CHECK(*chooseReader(4, readers) == "L0");
    CHECK(chooseReader(0, readers).error().code == "usage");
    CHECK(chooseReader(5, readers).error().code == "usage");
    json onlyContactEmpty =
        json::parse(R"([{"name":"C0","interface":"contact","card_present":false}])");
    CHECK(chooseReader(1, onlyContactEmpty).error().code == "no_card");
    CHECK(chooseReader(2, onlyContactEmpty).error().code == "no_reader");
    CHECK(chooseReader(3, onlyContactEmpty).error().code == "no_card");
    CHECK(chooseReader(4, json::array()).error().code == "no_reader");
    json contactOnly = json::parse(R"([{"name":"C1","interface":"contact","card_present":true}])");
    CHECK(*chooseReader(4, contactOnly) == "C1");
}

TEST_CASE("pCardInfo: card id and card number, and the new PIN for a reset") {
    auto info = parseCardInfo("330300d15600000599110145ffffffff|B7K334774|38620417|", true);
    REQUIRE(info);
    CHECK(info->card_id == "330300D15600000599110145FFFFFFFF");
    CHECK(info->card_number == "B7K334774");
    CHECK(info->new_pin == "38620417");
    CHECK(parseCardInfo("330300D15600000599110145FFFFFFFF|B7K334774|", false));
    CHECK(parseCardInfo("330300D15600000599110145FFFFFFFF|B7K334774", false));
    CHECK_FALSE(parseCardInfo("330300D15600000599110145FFFFFFFF|B7K334774|", true));  // no PIN
    CHECK_FALSE(parseCardInfo("330300D15600000599110145FFFFFFFF|B7K334774|12a456|", true));
    CHECK_FALSE(parseCardInfo("330300D156000005|B7K334774|", false));                  // short id
    CHECK_FALSE(parseCardInfo("330300D15600000599110145FFFFFFFG|B7K334774|", false));  // not hex
    CHECK_FALSE(parseCardInfo("330300D15600000599110145FFFFFFFF|B7K33477|", false));   // 8 chars
    CHECK_FALSE(parseCardInfo("", false));
    CHECK(isPin("1234"));
    CHECK(isPin("1234567890123456"));
    CHECK_FALSE(isPin("123"));
    CHECK_FALSE(isPin("12345678901234567"));
    CHECK_FALSE(isPin("12 456"));
}

TEST_CASE("the socket comes from SSCARD_SOCKET, else the service's default") {
    ::unsetenv("SSCARD_SOCKET");
    CHECK(socketPath() == "/run/sscard/sscardd.sock");
    ::setenv("SSCARD_SOCKET", "/tmp/x.sock", 1);
    CHECK(socketPath() == "/tmp/x.sock");
    ::setenv("SSCARD_SOCKET", "", 1);
    CHECK(socketPath() == "/run/sscard/sscardd.sock");
    ::unsetenv("SSCARD_SOCKET");
    auto link = DaemonLink::open("/nonexistent/dir/sscardd.sock");
    REQUIRE_FALSE(link);
    CHECK(link.error().code == "daemon_unreachable");
    CHECK(outcomeOf(link.error()).code == -11);
}
