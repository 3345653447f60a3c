#include <doctest/doctest.h>

#include <string>

#include "daemon/api/jsonrpc.hpp"

using namespace sscard;
using namespace sscard::api;
using nlohmann::json;

namespace {

Request ok(std::string_view line) {
    auto r = parseRequest(line);
    if (!r) FAIL("unexpected error: " << r.error().message);
    return *r;
}

JsonRpcErrorObject bad(std::string_view line) {
    auto r = parseRequest(line);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

}  // namespace

TEST_CASE("a request with an object, an array, or no params") {
    Request r = ok(R"({"jsonrpc":"2.0","id":1,"method":"card.read","params":{"holder":true}})");
    CHECK(r.method == "card.read");
    REQUIRE(r.id);
    CHECK(*r.id == 1);
    CHECK(r.params == json{{"holder", true}});
    CHECK_FALSE(r.isNotification());

    r = ok(R"({"jsonrpc":"2.0","id":"a","method":"status","params":[1,2]})");
    CHECK(r.params == json::array({1, 2}));

    r = ok(R"({"method":"status","jsonrpc":"2.0","id":2})");
    CHECK(r.params == json::object());
}

TEST_CASE("ids of each type - no id is a notification") {
    CHECK(*ok(R"({"jsonrpc":"2.0","id":7,"method":"status"})").id == 7);
    CHECK(*ok(R"({"jsonrpc":"2.0","id":-7,"method":"status"})").id == -7);
    CHECK(*ok(R"({"jsonrpc":"2.0","id":1.5,"method":"status"})").id == 1.5);
    CHECK(*ok(R"({"jsonrpc":"2.0","id":"x-1","method":"status"})").id == "x-1");
    auto nullId = ok(R"({"jsonrpc":"2.0","id":null,"method":"status"})");
    REQUIRE(nullId.id);
    CHECK(nullId.id->is_null());
    CHECK_FALSE(nullId.isNotification());
    CHECK(ok(R"({"jsonrpc":"2.0","method":"status"})").isNotification());

    for (const char* line : {R"({"jsonrpc":"2.0","id":true,"method":"status"})",
                             R"({"jsonrpc":"2.0","id":{},"method":"status"})",
                             R"({"jsonrpc":"2.0","id":[1],"method":"status"})"}) {
        auto e = bad(line);
        CHECK(e.code == kInvalidRequest);
        CHECK(e.id.is_null());
    }
}

TEST_CASE("invalid JSON is a parse error") {
    for (const char* line : {"", "{", "not json", R"({"jsonrpc":"2.0",})", "{\"a\":\"\xff\"}",
                             R"({"jsonrpc":"2.0","id":1,"method":"status"} x)"}) {
        auto e = bad(line);
        CHECK(e.code == kParseError);
        CHECK(e.id.is_null());
    }
}

TEST_CASE("invalid requests") {
    auto e = bad(R"({"jsonrpc":"1.0","id":3,"method":"status"})");
    CHECK(e.code == kInvalidRequest);
    CHECK(e.id == 3);  // the id is known, so the error answers it
    CHECK(e.message.find("2.0") != std::string::npos);

    CHECK(bad(R"({"id":3,"method":"status"})").code == kInvalidRequest);
    CHECK(bad(R"({"jsonrpc":2.0,"id":3,"method":"status"})").code == kInvalidRequest);

    e = bad(R"({"jsonrpc":"2.0","id":4})");
    CHECK(e.code == kInvalidRequest);
    CHECK(e.id == 4);
    CHECK(bad(R"({"jsonrpc":"2.0","id":4,"method":5})").code == kInvalidRequest);
    CHECK(bad(R"({"jsonrpc":"2.0","id":4,"method":""})").code == kInvalidRequest);

    for (const char* params : {"1", "\"x\"", "null", "true"}) {
        e = bad(std::string(R"({"jsonrpc":"2.0","id":5,"method":"status","params":)") + params +
                "}");
        CHECK(e.code == kInvalidRequest);
        CHECK(e.id == 5);
    }

    for (const char* line : {"1", "\"status\"", "null", "true"})
        CHECK(bad(line).code == kInvalidRequest);
}

TEST_CASE("batches are rejected") {
    auto e = bad(R"([{"jsonrpc":"2.0","id":1,"method":"status"}])");
    CHECK(e.code == kInvalidRequest);
    CHECK(e.message.find("batch") != std::string::npos);
    CHECK(bad("[]").code == kInvalidRequest);
}

TEST_CASE("deep nesting is refused before parsing") {
    std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"status","params":)";
    for (int i = 0; i < 100000; ++i) deep += '[';
    auto e = bad(deep);
    CHECK(e.code == kInvalidRequest);
    // Brackets inside strings do not count.
    std::string s = R"({"jsonrpc":"2.0","id":1,"method":"status","params":{"a":")" +
                    std::string(1000, '[') + R"("}})";
    CHECK(ok(s).params["a"].get<std::string>().size() == 1000);
    // Just at the limit is fine.
    std::string atLimit = R"({"jsonrpc":"2.0","id":1,"method":"status","params":)";
    for (int i = 1; i < kMaxDepth; ++i) atLimit += '[';
    for (int i = 1; i < kMaxDepth; ++i) atLimit += ']';
    atLimit += '}';
    CHECK(ok(atLimit).method == "status");
}

TEST_CASE("contract errors become JSON-RPC error objects") {
    Error wrong{ErrorCode::pin_wrong, "wrong PIN", 2, std::nullopt, std::nullopt, std::nullopt};
    JsonRpcErrorObject e = toJsonRpcError(wrong);
    CHECK(e.code == kApplicationError);
    CHECK(e.message == "wrong PIN");
    CHECK(e.data == json{{"code", "pin_wrong"}, {"tries_left", 2}});
    CHECK(e.toJson() == json{{"code", -32000},
                             {"message", "wrong PIN"},
                             {"data", {{"code", "pin_wrong"}, {"tries_left", 2}}}});

    e = toJsonRpcError(makeError(ErrorCode::not_allowed, ""));
    CHECK(e.data == json{{"code", "not_allowed"}});
    CHECK(e.message == "not_allowed");
    CHECK(toJsonRpcError(makeError(ErrorCode::usage, "x")).code == kInvalidParams);
    CHECK(toJsonRpcError(makeError(ErrorCode::internal, "x")).code == kInternalError);
    CHECK(toJsonRpcError(makeError(ErrorCode::busy, "x")).data["code"] == "busy");

    // Round trip through the client-side reader.
    for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
        Error in{
            static_cast<ErrorCode>(i), "m", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
        auto out = fromJsonRpcError(toJsonRpcError(in).toJson());
        REQUIRE(out);
        CHECK(out->code == in.code);
        CHECK(out->message == "m");
    }
    auto back = fromJsonRpcError(toJsonRpcError(wrong).toJson());
    REQUIRE(back);
    CHECK(back->tries_left == 2);
    CHECK_FALSE(back->pin_state);

    // Where the PIN stands after a failed PIN-changing flow travels in data.pin_state.
    Error pulled = makeError(ErrorCode::card_removed, "card pulled");
    pulled.pin_state = "unknown";
    CHECK(toJsonRpcError(pulled).data == json{{"code", "card_removed"}, {"pin_state", "unknown"}});
    auto pulledBack = fromJsonRpcError(toJsonRpcError(pulled).toJson());
    REQUIRE(pulledBack);
    CHECK(pulledBack->pin_state == "unknown");
    // A card's status word travels in data.sw as four hex digits.
    Error refused = makeError(ErrorCode::card_error, "VERIFY: card answered 6581");
    refused.sw = 0x6581;
    CHECK(toJsonRpcError(refused).data == json{{"code", "card_error"}, {"sw", "6581"}});
    auto refusedBack = fromJsonRpcError(toJsonRpcError(refused).toJson());
    REQUIRE(refusedBack);
    CHECK(refusedBack->sw == 0x6581);
    CHECK_FALSE(
        fromJsonRpcError(json{{"message", "x"}, {"data", {{"code", "card_error"}, {"sw", "65"}}}})
            ->sw);
    CHECK(swText(0x6A82) == "6A82");
    CHECK(swText(0x0009) == "0009");
    CHECK(swFromText("6a82") == 0x6A82);
    CHECK_FALSE(swFromText("6A8"));
    CHECK_FALSE(swFromText("6A8G"));
    CHECK_FALSE(fromJsonRpcError(json(5)));
    CHECK(fromJsonRpcError(json{{"code", -32601}, {"message", "x"}})->code == ErrorCode::internal);
}

TEST_CASE("lines") {
    CHECK(responseLine(1, json{{"a", 1}}) == R"({"id":1,"jsonrpc":"2.0","result":{"a":1}})"
                                             "\n");
    JsonRpcErrorObject e = makeJsonRpcError(kMethodNotFound, "method not found: x");
    e.id = "q";
    CHECK(json::parse(errorLine(e)) ==
          json{{"jsonrpc", "2.0"},
               {"id", "q"},
               {"error", {{"code", -32601}, {"message", "method not found: x"}}}});
    CHECK(json::parse(notificationLine("card.removed", json{{"reader", "R"}})) ==
          json{{"jsonrpc", "2.0"}, {"method", "card.removed"}, {"params", {{"reader", "R"}}}});
    // Invalid UTF-8 in a result is replaced, never thrown.
    std::string line = responseLine(1, json{{"name", std::string("\xff\xfe")}});
    CHECK(line.back() == '\n');
    CHECK(json::parse(line)["result"]["name"] == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("wipeStrings overwrites every string of a request's parameters") {
    json params =
        json::parse(R"({"pin":"123456","nested":{"new_pin":"654321"},"list":["9999"],"n":5})");
    const std::string* pin = &params["pin"].get_ref<const std::string&>();
    wipeStrings(params);
    CHECK(pin->empty());
    CHECK(params["pin"] == "");
    CHECK(params["nested"]["new_pin"] == "");
    CHECK(params["list"][0] == "");
    CHECK(params["n"] == 5);
}
