// JSON-RPC 2.0 messages of the local API (docs/api.md#framing), without sockets:
// one request per line in, one response or notification per line out. Everything here is pure and
// never throws, so that it can be unit-tested and fuzzed on its own.
//
// Framing and limits (what the server does with these):
//   - one JSON object per line ('\n'; a '\r' before it is ignored; empty lines are skipped);
//   - batch requests (a JSON array) are NOT supported: they get one -32600 error with id null,
//     "batch requests are not supported; send one request per line";
//   - nesting deeper than kMaxDepth gets -32600 (no method needs more than a few levels).
//
// Errors: the JSON-RPC codes below, and kApplicationError (-32000) for the contract's failure
// classes, whose error object carries {"data": {"code": "<codeName>", "tries_left": n?}}.
// ErrorCode::usage maps to -32602 (invalid params) and ErrorCode::internal to -32603, both with
// data.code as well, so a client can always switch on data.code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/expected.hpp"

namespace sscard::api {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kApplicationError = -32000;

inline constexpr int kMaxDepth = 32;

// A JSON-RPC error object plus the id of the request it answers (null when unknown).
struct JsonRpcErrorObject {
    int code = kInternalError;
    std::string message;
    nlohmann::json data;  // null = no "data" member
    nlohmann::json id;    // the request's id if it could be read, else null

    // {"code": ..., "message": ..., "data": ...?}
    nlohmann::json toJson() const;
};

struct Request {
    // The id as sent (a string, a number or null); nullopt for a notification (no "id" member),
    // which gets no response.
    std::optional<nlohmann::json> id;
    std::string method;
    // An object or an array; an empty object when the request had no "params".
    nlohmann::json params = nlohmann::json::object();

    bool isNotification() const { return !id.has_value(); }
};

// Parses one line (without its '\n'). Errors: -32700 (not JSON, or not UTF-8), -32600 (not an
// object, a batch, "jsonrpc" not "2.0", "method" missing or not a string, an id that is not a
// string, number or null, "params" neither object nor array, too deep).
Expected<Request, JsonRpcErrorObject> parseRequest(std::string_view line);

// The error object for a contract failure (see the header comment for the numeric codes).
JsonRpcErrorObject toJsonRpcError(const Error& e);

// Overwrites every string inside `value` (request parameters that may hold PINs) before it is
// freed. What nlohmann's parser copied while reading is freed unwiped: the process is non-dumpable.
void wipeStrings(nlohmann::json& value);
// ... and the other way round, for clients: the contract failure a response's error object
// describes (data.code if it names one, else internal); nullopt if `error` is not an object.
std::optional<Error> fromJsonRpcError(const nlohmann::json& error);

JsonRpcErrorObject makeJsonRpcError(int code, std::string message, nlohmann::json data = nullptr);

// Whole lines, each ending in '\n'. Strings that are not valid UTF-8 are written with U+FFFD in
// place of the bad bytes (never an exception).
std::string responseLine(const nlohmann::json& id, const nlohmann::json& result);
std::string errorLine(const JsonRpcErrorObject& e);  // uses e.id
std::string notificationLine(std::string_view method, const nlohmann::json& params);
std::string requestLine(const nlohmann::json& id, std::string_view method,
                        const nlohmann::json& params);

// A JSON value as one line of text without the newline (invalid UTF-8 replaced).
std::string dumpCompact(const nlohmann::json& j);

}  // namespace sscard::api
