#include <doctest/doctest.h>

#include "test/unit/test_hex.hpp"

#include <deque>
#include <string>
#include <vector>

#include "apdu/transport.hpp"

using namespace sscard;
using sscard::test::hex;
using namespace sscard::apdu;

namespace {

// A card that answers from a script and remembers what it was sent.
class FakeConnection : public CardConnection {
  public:
    explicit FakeConnection(Protocol protocol = Protocol::t1) : protocol_(protocol) {}

    const std::string& readerName() const override { return name_; }
    const Bytes& atr() const override { return atr_; }
    Protocol protocol() const override { return protocol_; }
    Interface interface() const override { return Interface::contact; }

    void answer(std::string_view hexText) { script_.emplace_back(hex(hexText)); }
    void answerBytes(Bytes bytes) { script_.emplace_back(std::move(bytes)); }
    void fail(TransportErrorKind kind) {
        script_.emplace_back(unexpected(TransportError{kind, "scripted failure"}));
    }

    std::vector<Bytes> sent;
    int begins = 0;
    int ends = 0;
    int resets = 0;  // ends that were asked to reset the card
    bool refuseBegin = false;

    std::size_t unanswered() const { return script_.size(); }

  protected:
    Expected<void, TransportError> beginTransaction() override {
        if (refuseBegin) {
            return unexpected(TransportError{TransportErrorKind::sharing_violation, "busy"});
        }
        ++begins;
        return {};
    }
    void endTransaction() noexcept override {
        ++ends;
        if (resetRequested()) ++resets;
    }
    Expected<Bytes, TransportError> transmitRaw(ByteView command) override {
        sent.emplace_back(command.begin(), command.end());
        if (script_.empty()) {
            return unexpected(TransportError{TransportErrorKind::comm_error, "script exhausted"});
        }
        auto next = std::move(script_.front());
        script_.pop_front();
        return next;
    }

  private:
    std::string name_ = "Fake Reader 00 00";
    Bytes atr_ = {0x3B, 0x00};
    Protocol protocol_;
    std::deque<Expected<Bytes, TransportError>> script_;
};

CommandApdu command(std::string_view hexText) {
    auto parsed = CommandApdu::parse(hex(hexText));
    REQUIRE(parsed);
    return *parsed;
}

Transaction begin(FakeConnection& conn) {
    auto tx = conn.begin();
    REQUIRE(tx);
    return std::move(*tx);
}

}  // namespace

TEST_CASE("transaction: begin and end exactly once, moved-from ends nothing") {
    FakeConnection conn;
    {
        Transaction tx = begin(conn);
        CHECK(conn.begins == 1);
        CHECK(conn.ends == 0);
        Transaction moved(std::move(tx));
        CHECK(conn.ends == 0);
        CHECK(&moved.connection() == &conn);
    }
    CHECK(conn.ends == 1);
}

TEST_CASE("transaction: a reset asked for ends that transaction with a reset, and only that one") {
    FakeConnection conn;
    {
        Transaction tx = begin(conn);
        conn.resetWhenTransactionEnds();
    }
    CHECK(conn.ends == 1);
    CHECK(conn.resets == 1);
    { Transaction tx = begin(conn); }
    CHECK(conn.ends == 2);
    CHECK(conn.resets == 1);
}

TEST_CASE("transaction: a refused begin is an error value") {
    FakeConnection conn;
    conn.refuseBegin = true;
    auto tx = conn.begin();
    REQUIRE_FALSE(tx);
    CHECK(tx.error().kind == TransportErrorKind::sharing_violation);
    CHECK(conn.ends == 0);
}

TEST_CASE("transmit: plain exchange on T=1 keeps Le") {
    FakeConnection conn(Protocol::t1);
    conn.answer("0102 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 A4 04 00 02 DF04 00"));
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->data == hex("0102"));
    REQUIRE(conn.sent.size() == 1);
    CHECK(conn.sent[0] == hex("00 A4 04 00 02 DF04 00"));
    CHECK(conn.apduCount() == 1);
}

TEST_CASE("transmit: T=0 sends a case-4 command without Le, then fetches 61xx") {
    FakeConnection conn(Protocol::t0);
    conn.answer("611C");
    conn.answer("6F1A" + std::string(52, 'A') + "9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 A4 04 00 02 DF04 00"));
    REQUIRE(r);
    CHECK(r->sw() == 0x9000);
    CHECK(r->data.size() == 28);
    REQUIRE(conn.sent.size() == 2);
    CHECK(conn.sent[0] == hex("00 A4 04 00 02 DF04"));  // Le dropped
    CHECK(conn.sent[1] == hex("00 C0 00 00 1C"));
    CHECK(conn.apduCount() == 2);
}

TEST_CASE("transmit: T=0 keeps Le on a case-2 command") {
    FakeConnection conn(Protocol::t0);
    conn.answer("AABB 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B2 07 2C 0B"));
    REQUIRE(r);
    CHECK(conn.sent.at(0) == hex("00 B2 07 2C 0B"));
}

TEST_CASE("transmit: a 61xx chain is followed and concatenated, 00 means 256") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6100");
    Bytes first(256, 0x11);
    first.push_back(0x61);
    first.push_back(0x03);
    conn.answerBytes(first);
    conn.answer("222222 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B0 00 00 00"));
    REQUIRE(r);
    CHECK(r->ok());
    REQUIRE(r->data.size() == 259);
    CHECK(r->data[0] == 0x11);
    CHECK(r->data[255] == 0x11);
    CHECK(r->data[256] == 0x22);
    REQUIRE(conn.sent.size() == 3);
    CHECK(conn.sent[1] == hex("00 C0 00 00 00"));
    CHECK(conn.sent[2] == hex("00 C0 00 00 03"));
    CHECK(conn.apduCount() == 3);
}

TEST_CASE("transmit: the final status of a chain is returned (warning after data)") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6102");
    conn.answer("ABCD 6282");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B0 00 00 10"));
    REQUIRE(r);
    CHECK(r->sw() == 0x6282);
    CHECK(r->data == hex("ABCD"));
}

TEST_CASE("transmit: without fetchResponse, 61xx comes back as is") {
    FakeConnection conn(Protocol::t0);
    conn.answer("611C");
    Transaction tx = begin(conn);
    TransmitOptions options;
    options.fetchResponse = false;
    auto r = tx.transmit(command("00 A4 04 00 02 DF04"), options);
    REQUIRE(r);
    CHECK(r->sw() == 0x611C);
    CHECK(conn.sent.size() == 1);
    CHECK(conn.apduCount() == 1);
}

TEST_CASE("transmit: an endless 61xx chain is cut off as comm_error") {
    FakeConnection conn(Protocol::t0);
    for (int i = 0; i < 100; ++i) conn.answer("01 6101");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B0 00 00 00"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == TransportErrorKind::comm_error);
    CHECK(conn.sent.size() < 40);
    CHECK(conn.sent.size() > 30);
    CHECK(conn.apduCount() == conn.sent.size());
}

TEST_CASE("transmit: a GET RESPONSE answered 6Cxx is redone with that Le") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6110");
    conn.answer("6C08");
    conn.answer("0102030405060708 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 A4 04 00 02 DF04"));
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->data == hex("0102030405060708"));
    REQUIRE(conn.sent.size() == 3);
    CHECK(conn.sent[1] == hex("00 C0 00 00 10"));
    CHECK(conn.sent[2] == hex("00 C0 00 00 08"));
}

TEST_CASE("transmit: 6Cxx resends the command with the right Le, once") {
    FakeConnection conn(Protocol::t1);
    conn.answer("6C0B");
    conn.answer("07 09 42374B333334373734 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B2 07 2C 00"));
    REQUIRE(r);
    CHECK(r->ok());
    CHECK(r->data.size() == 11);
    REQUIRE(conn.sent.size() == 2);
    CHECK(conn.sent[1] == hex("00 B2 07 2C 0B"));
    CHECK(conn.apduCount() == 2);

    FakeConnection twice(Protocol::t1);
    twice.answer("6C0B");
    twice.answer("6C05");
    twice.answer("9000");  // must not be reached
    Transaction tx2 = begin(twice);
    auto r2 = tx2.transmit(command("00 B2 07 2C 00"));
    REQUIRE(r2);
    CHECK(r2->sw() == 0x6C05);
    CHECK(twice.sent.size() == 2);
    CHECK(twice.unanswered() == 1);
}

TEST_CASE("transmit: 6C00 means Le 256, and fixLe off returns 6Cxx") {
    FakeConnection conn;
    conn.answer("6C00");
    conn.answer("9000");
    Transaction tx = begin(conn);
    REQUIRE(tx.transmit(command("00 B0 00 00 10")));
    CHECK(conn.sent.at(1) == hex("00 B0 00 00 00"));

    FakeConnection off;
    off.answer("6C0B");
    Transaction tx2 = begin(off);
    TransmitOptions options;
    options.fixLe = false;
    auto r = tx2.transmit(command("00 B2 07 2C 00"), options);
    REQUIRE(r);
    CHECK(r->sw() == 0x6C0B);
    CHECK(off.sent.size() == 1);
}

TEST_CASE("transmit: on T=0 a command with data is not resent on 6Cxx (it cannot carry Le)") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6C10");
    conn.answer("9000");  // must not be reached
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 A4 04 00 02 DF04 00"));
    REQUIRE(r);
    CHECK(r->sw() == 0x6C10);
    CHECK(conn.sent.size() == 1);
    CHECK(conn.unanswered() == 1);
}

TEST_CASE("transmit: 6Cxx then 61xx on T=0 is followed through") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6C04");
    conn.answer("6104");
    conn.answer("01020304 9000");
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 B0 00 00 00"));
    REQUIRE(r);
    CHECK(r->data == hex("01020304"));
    CHECK(conn.apduCount() == 3);
}

TEST_CASE("transmit: short responses are comm_error, still counted") {
    FakeConnection conn;
    conn.answer("90");
    conn.answerBytes(Bytes{});
    Transaction tx = begin(conn);
    auto one = tx.transmit(command("00 B0 00 00 10"));
    REQUIRE_FALSE(one);
    CHECK(one.error().kind == TransportErrorKind::comm_error);
    CHECK(one.error().message == "card answered 1 byte(s), not a response APDU");
    auto none = tx.transmitVerbatim(hex("00 B0 00 00 10"));
    REQUIRE_FALSE(none);
    CHECK(none.error().message == "card answered 0 byte(s), not a response APDU");
    CHECK(conn.apduCount() == 2);
}

TEST_CASE("transmit: a transport failure is passed through, not counted") {
    FakeConnection conn(Protocol::t0);
    conn.answer("6110");
    conn.fail(TransportErrorKind::card_removed);
    Transaction tx = begin(conn);
    auto r = tx.transmit(command("00 A4 04 00 02 DF04"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == TransportErrorKind::card_removed);
    CHECK(conn.apduCount() == 1);
}

TEST_CASE("transmitVerbatim: no fix-ups") {
    FakeConnection conn(Protocol::t0);
    conn.answer("611C");
    Transaction tx = begin(conn);
    auto r = tx.transmitVerbatim(hex("00 A4 04 00 02 DF04 00"));
    REQUIRE(r);
    CHECK(r->sw() == 0x611C);
    REQUIRE(conn.sent.size() == 1);
    CHECK(conn.sent[0] == hex("00 A4 04 00 02 DF04 00"));  // Le not dropped
    CHECK(conn.apduCount() == 1);
}

TEST_CASE("tracer: every raw exchange, PIN redacted") {
    FakeConnection conn(Protocol::t0);
    std::vector<std::string> lines;
    conn.setTracer([&lines](std::string_view line) { lines.emplace_back(line); });
    conn.answer("63C2");
    conn.answer("6102");
    conn.answer("ABCD 9000");
    Transaction tx = begin(conn);
    auto v = tx.transmit(command("00 20 00 00 03 12 34 56"));
    REQUIRE(v);
    CHECK(v->sw() == 0x63C2);
    auto s = tx.transmit(command("00 A4 00 00 02 DF04"));
    REQUIRE(s);
    const std::vector<std::string> expected = {
        "> 00 20 00 00 03 ** ** **",
        "< 63 C2",
        "> 00 A4 00 00 02 DF 04",
        "< 61 02",
        // GET RESPONSE may carry a record's holder data: only its length and status word show.
        "> 00 C0 00 00 02",
        "< [2 bytes masked] 90 00",
    };
    CHECK(lines == expected);
    for (const std::string& line : lines) CHECK(line.find("12 34") == std::string::npos);
    CHECK(conn.apduCount() == 3);
}

TEST_CASE("names") {
    CHECK(std::string(interfaceName(Interface::contact)) == "contact");
    CHECK(std::string(interfaceName(Interface::contactless)) == "contactless");
    CHECK(std::string(kindName(TransportErrorKind::card_removed)) == "card_removed");
    CHECK(std::string(kindName(TransportErrorKind::comm_error)) == "comm_error");
    CHECK(std::string(kindName(TransportErrorKind::sharing_violation)) == "sharing_violation");
}
