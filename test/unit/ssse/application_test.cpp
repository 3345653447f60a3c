// The SSSE read flow against a scripted fake card (a unit-test fake: the real card path is covered
// by the integration tests against pcscd + vpcd + the simulator).
#include <doctest/doctest.h>

#include <map>

#include "apdu/ssse/application.hpp"

using namespace sscard;
using namespace sscard::ssse;

namespace {

class ScriptedCard : public apdu::CardConnection {
  public:
    std::map<std::string, std::string> script;  // command hex → response hex
    std::vector<std::string> sent;
    apdu::Protocol proto = apdu::Protocol::t1;
    Bytes atrBytes = *fromHex("3B6D000000");
    std::optional<apdu::TransportError> failAt;  // fail the exchange with this index
    std::size_t failIndex = 0;

    const std::string& readerName() const override { return name_; }
    const Bytes& atr() const override { return atrBytes; }
    apdu::Protocol protocol() const override { return proto; }
    apdu::Interface interface() const override { return apdu::Interface::contact; }

  protected:
    Expected<void, apdu::TransportError> beginTransaction() override { return {}; }
    void endTransaction() noexcept override {}
    Expected<Bytes, apdu::TransportError> transmitRaw(ByteView command) override {
        if (failAt && sent.size() == failIndex) return unexpected(*failAt);
        sent.push_back(toHex(command));
        auto it = script.find(sent.back());
        return *fromHex(it == script.end() ? "6D00" : it->second);
    }

  private:
    std::string name_ = "Scripted";
};

const std::string kSelect = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00";
const std::string kEf05All =
    "0110330300D15600000599110145FFFFFFFF"
    "020133"
    "0304332E3030"
    "040C915600000234120034010A0C"
    "050420101001"
    "060420201001"
    "070942374B333334373734";

void scriptSingles(ScriptedCard& card) {
    card.script["00B2012812"] = "0110330300D15600000599110145FFFFFFFF9000";
    card.script["00B2022803"] = "0201339000";
    card.script["00B2032806"] = "0304332E30309000";
    card.script["00B204280E"] = "040C915600000234120034010A0C9000";
    card.script["00B2052806"] = "0504201010019000";
    card.script["00B2062806"] = "0604202010019000";
    card.script["00B207280B"] = "070942374B3333343737349000";
}

void checkExampleCard(const CardInfo& c) {
    CHECK(c.card_id == "330300D15600000599110145FFFFFFFF");
    CHECK(c.region == "330300");
    CHECK(c.card_number == "B7K334774");
    CHECK(c.card_number_valid);
    CHECK(c.card_type == "3");
    CHECK(c.spec_version == "3.00");
    CHECK(c.generation == 3);
    CHECK(c.issuer_id == "915600000234120034010A0C");
    REQUIRE(c.issued_on);
    CHECK(c.issued_on->iso() == "2010-10-01");
    REQUIRE(c.expires_on);
    CHECK(c.expires_on->iso() == "2020-10-01");
}

}  // namespace

TEST_CASE("a card that reads all records at once costs two APDUs") {
    ScriptedCard card;
    card.script[kSelect] = "6F009000";
    card.script["00B2012D40"] = kEf05All + "9000";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE(r);
    checkExampleCard(r->card);
    CHECK(card.apduCount() == 2);
    CHECK_FALSE(r->holder);
}

TEST_CASE("T=0: SELECT goes out without Le, 61xx is not fetched, still two APDUs") {
    ScriptedCard card;
    card.proto = apdu::Protocol::t0;
    card.script["00A404000F7378312E73682EC9E7BBE1B1A3D5CF"] = "611E";
    card.script["00B2012D40"] = kEf05All + "9000";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE(r);
    checkExampleCard(r->card);
    CHECK(card.apduCount() == 2);
}

TEST_CASE("a refused multi-record read falls back to single records and is remembered per ATR") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    card.script["00B2012D40"] = "6A86";
    scriptSingles(card);
    ReadStrategyCache cache;
    auto first = readCard(card, cache, false);
    REQUIRE(first);
    checkExampleCard(first->card);
    CHECK(card.apduCount() == 9);  // SELECT, refused read, seven records: never above the vendor 9
    CHECK(!cache.multiReadAllowed(card.atrBytes, 0x05, false));

    ScriptedCard again;
    again.script = card.script;
    auto second = readCard(again, cache, false);
    REQUIRE(second);
    checkExampleCard(second->card);
    CHECK(again.apduCount() == 8);  // SELECT + seven records, no second attempt
}

TEST_CASE("records missing from the multi-record answer are read singly") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    // Answer without the card number record.
    card.script["00B2012D40"] = kEf05All.substr(0, kEf05All.size() - 22) + "9000";
    scriptSingles(card);
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE(r);
    CHECK(r->card.card_number == "B7K334774");
    CHECK(card.apduCount() == 3);
    CHECK(card.sent.back() == "00B207280B");
}

TEST_CASE("a card without the application is not_ssse_card") {
    ScriptedCard card;
    card.script[kSelect] = "6A82";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::not_ssse_card);
    CHECK(card.apduCount() == 1);
}

TEST_CASE("a permanently blocked application is a card error that says so") {
    ScriptedCard card;
    card.script[kSelect] = "9303";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::card_error);
    CHECK(r.error().message.find("permanently blocked") != std::string::npos);
}

TEST_CASE("malformed records are a card error, not a crash") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    card.script["00B2012D40"] =
        "0110330300"
        "9000";  // length 16, 3 bytes present
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::card_error);
    CHECK(r.error().message.find("malformed") != std::string::npos);
}

TEST_CASE("a card pulled mid-read is card_removed") {
    for (std::size_t at = 0; at < 2; ++at) {
        CAPTURE(at);
        ScriptedCard card;
        card.script[kSelect] = "9000";
        card.script["00B2012D40"] = kEf05All + "9000";
        card.failAt = apdu::TransportError{apdu::TransportErrorKind::card_removed, "gone"};
        card.failIndex = at;
        ReadStrategyCache cache;
        auto r = readCard(card, cache, false);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::card_removed);
    }
}

TEST_CASE("holder data: GBK name and extension joined, 3rd generation without key protected") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    card.script["00B2012D40"] = kEf05All + "9000";
    std::string name = "D5C5C8FD" + std::string(52, '0');  // 张三 padded to 30 bytes
    std::string ext = "C4C8C0AD" + std::string(32, '0');   // 娜拉 padded to 20 bytes
    card.script["00B201355B"] =
        "0812" + std::string("333330333031393831303130313030313158").substr(0, 36) + "091E" + name +
        "4E14" + ext + "0A0131" + "0B0101" + "0C03330300" + "0D0419810101" + "9000";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, true);
    REQUIRE(r);
    REQUIRE(r->holder);
    CHECK(r->holder->name == "张三娜拉");
    CHECK(r->holder->sex == "1");
    CHECK(r->holder->ethnicity == "01");
    CHECK(r->holder->birthplace == "330300");
    CHECK(r->holder->birth_date->iso() == "1981-01-01");
    CHECK(r->holder->ssn->size() == 18);

    // Without the read key every EF06 record answers 6982: the read succeeds, every holder field
    // is empty and named, and the card data is all there.
    ScriptedCard locked;
    locked.script[kSelect] = "9000";
    locked.script["00B2012D40"] = kEf05All + "9000";
    for (const char* single : {"00B2083014", "00B2093020", "00B24E3016", "00B20A3003", "00B20B3003",
                               "00B20C3005", "00B20D3006"})
        locked.script[single] = "6982";
    locked.script["00B201355B"] = "6982";
    auto partial = readCard(locked, cache, true);
    REQUIRE(partial);
    checkExampleCard(partial->card);
    CHECK(partial->card.protected_fields.empty());
    REQUIRE(partial->holder);
    CHECK_FALSE(partial->holder->ssn);
    CHECK_FALSE(partial->holder->name);
    CHECK(partial->holder->protected_fields ==
          std::vector<std::string>{"ssn", "name", "sex", "ethnicity", "birthplace", "birth_date"});
    // EF06's refusal is remembered for this ATR and file, and only until authentication
    CHECK_FALSE(cache.multiReadAllowed(locked.atrBytes, 0x06, false));
    CHECK(cache.multiReadAllowed(locked.atrBytes, 0x06, true));
    CHECK(cache.multiReadAllowed(locked.atrBytes, 0x05, false));
}

TEST_CASE("a protected card number: null, named, and the other records read one by one") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    card.script["00B2012D40"] = "6982";  // the range covers the protected record 07
    scriptSingles(card);
    card.script["00B207280B"] = "6982";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, false);
    REQUIRE(r);
    CHECK(r->card.card_id == "330300D15600000599110145FFFFFFFF");
    CHECK(r->card.expires_on->iso() == "2020-10-01");
    CHECK_FALSE(r->card.card_number);
    CHECK(r->card.protected_fields == std::vector<std::string>{"card_number"});
    CHECK(card.apduCount() == 9);
    CHECK_FALSE(cache.multiReadAllowed(card.atrBytes, 0x05, false));

    // a card protecting both its id and its number cannot be identified
    ScriptedCard anonymous;
    anonymous.script = card.script;
    anonymous.script["00B2012812"] = "6982";
    auto none = readCard(anonymous, cache, false);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == ErrorCode::read_key_required);
}

TEST_CASE("1st generation holder layout has no name extension and is read by tag") {
    ScriptedCard card;
    card.script[kSelect] = "9000";
    std::string ef05 = kEf05All;
    ef05.replace(ef05.find("332E3030"), 8, "312E3030");  // spec version 1.00
    card.script["00B2012D40"] = ef05 + "9000";
    card.script["00B2013545"] = "6A86";  // this card type refuses P1-to-last for EF06
    std::string name = "C5B7D1F4" + std::string(52, '0');
    card.script["00B2083014"] =
        "0812333330333031393831303130313030313158"
        "9000";
    card.script["00B2093020"] = "091E" + name + "9000";
    card.script["00B20A3003"] = "0A01329000";
    card.script["00B20B3003"] = "0B01019000";
    card.script["00B20C3005"] = "0C033303009000";
    card.script["00B20D3006"] = "0D04198101019000";
    ReadStrategyCache cache;
    auto r = readCard(card, cache, true);
    REQUIRE(r);
    CHECK(r->card.generation == 1);
    REQUIRE(r->holder);
    CHECK(r->holder->name == "欧阳");
    CHECK(r->holder->sex == "2");
    CHECK(r->holder->ssn == "33030198101010011X");
}
