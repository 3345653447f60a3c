// libFuzzer target for the local API's message layer: parseRequest on arbitrary lines must never
// crash, throw or hang; whatever it accepts or rejects must turn into a response line that is
// valid JSON-RPC; and the contract-error builder must round-trip any message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/api/jsonrpc.hpp"

using nlohmann::json;
using sscard::api::JsonRpcErrorObject;

namespace {

json parseLine(const std::string& line) {
    if (line.empty() || line.back() != '\n') std::abort();
    if (line.find('\n') != line.size() - 1) std::abort();  // one line, always
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j["jsonrpc"] != "2.0") std::abort();
    return j;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    auto r = sscard::api::parseRequest(text);
    if (r) {
        if (r->method.empty()) std::abort();
        if (!r->params.is_object() && !r->params.is_array()) std::abort();
        if (r->id && !(r->id->is_string() || r->id->is_number() || r->id->is_null())) std::abort();
        json id = r->id ? *r->id : json();
        json back = parseLine(sscard::api::responseLine(id, r->params));
        if (!back.contains("result")) std::abort();
        parseLine(sscard::api::notificationLine(r->method, r->params));
        // What we write for a request, we read back as the same request.
        auto again = sscard::api::parseRequest(sscard::api::requestLine(id, r->method, r->params));
        if (!again || again->method != r->method) std::abort();
    } else {
        const JsonRpcErrorObject& e = r.error();
        if (e.code != sscard::api::kParseError && e.code != sscard::api::kInvalidRequest &&
            e.code != sscard::api::kInternalError)
            std::abort();
        if (e.message.empty()) std::abort();
        json back = parseLine(sscard::api::errorLine(e));
        if (back["error"]["code"] != e.code) std::abort();
    }

    // The error builder: the first byte picks the failure class, the rest is the message.
    if (size > 0) {
        int classes = static_cast<int>(sscard::ErrorCode::internal) + 1;
        sscard::Error err;
        err.code = static_cast<sscard::ErrorCode>(data[0] % classes);
        err.message = std::string(text.substr(1));
        if (data[0] & 0x80) err.tries_left = data[0] & 0x0F;
        JsonRpcErrorObject e = sscard::api::toJsonRpcError(err);
        e.id = json(std::string(text.substr(1, 8)));
        json back = parseLine(sscard::api::errorLine(e));
        auto decoded = sscard::api::fromJsonRpcError(back["error"]);
        if (!decoded || decoded->code != err.code || decoded->tries_left != err.tries_left)
            std::abort();
    }
    return 0;
}
