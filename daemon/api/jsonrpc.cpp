#include "daemon/api/jsonrpc.hpp"

#include <exception>

#include "crypto/wipe.hpp"

namespace sscard::api {

namespace {

using nlohmann::json;

// The deepest nesting of arrays and objects in `text`, counting only brackets outside strings;
// stops counting past `limit`. (nlohmann::json parses iteratively, but dumping is recursive: we
// refuse deep documents before they get that far.)
int nestingDepth(std::string_view text, int limit) {
    int depth = 0;
    int deepest = 0;
    bool inString = false;
    bool escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
            continue;
        }
        switch (c) {
            case '"':
                inString = true;
                break;
            case '[':
            case '{':
                if (++depth > deepest) deepest = depth;
                if (deepest > limit) return deepest;
                break;
            case ']':
            case '}':
                if (depth > 0) --depth;
                break;
            default:
                break;
        }
    }
    return deepest;
}

bool validId(const json& id) {
    return id.is_string() || id.is_number() || id.is_null();
}

}  // namespace

json JsonRpcErrorObject::toJson() const {
    json e = {{"code", code}, {"message", message}};
    if (!data.is_null()) e["data"] = data;
    return e;
}

JsonRpcErrorObject makeJsonRpcError(int code, std::string message, json data) {
    JsonRpcErrorObject e;
    e.code = code;
    e.message = std::move(message);
    e.data = std::move(data);
    return e;
}

Expected<Request, JsonRpcErrorObject> parseRequest(std::string_view line) {
    try {
        if (nestingDepth(line, kMaxDepth) > kMaxDepth)
            return unexpected(makeJsonRpcError(
                kInvalidRequest,
                "request nested deeper than " + std::to_string(kMaxDepth) + " levels"));
        json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded())
            return unexpected(
                makeJsonRpcError(kParseError, "parse error: not one JSON value in UTF-8"));
        if (j.is_array())
            return unexpected(makeJsonRpcError(
                kInvalidRequest, "batch requests are not supported; send one request per line"));
        if (!j.is_object())
            return unexpected(
                makeJsonRpcError(kInvalidRequest, "invalid request: expected a JSON object"));

        Request r;
        json id;  // for errors below: the id if it is usable
        if (auto it = j.find("id"); it != j.end()) {
            if (!validId(*it))
                return unexpected(makeJsonRpcError(
                    kInvalidRequest, "invalid request: \"id\" must be a string, number or null"));
            id = *it;
            r.id = *it;
        }
        auto fail = [&id](std::string message) {
            JsonRpcErrorObject e = makeJsonRpcError(kInvalidRequest, std::move(message));
            e.id = id;
            return unexpected(std::move(e));
        };

        auto version = j.find("jsonrpc");
        if (version == j.end() || !version->is_string() ||
            version->get_ref<const std::string&>() != "2.0")
            return fail("invalid request: \"jsonrpc\" must be \"2.0\"");

        auto method = j.find("method");
        if (method == j.end() || !method->is_string())
            return fail("invalid request: \"method\" must be a string");
        r.method = method->get<std::string>();
        if (r.method.empty()) return fail("invalid request: \"method\" must not be empty");

        if (auto params = j.find("params"); params != j.end()) {
            if (!params->is_object() && !params->is_array())
                return fail("invalid request: \"params\" must be an object or an array");
            r.params = std::move(*params);
        }
        return r;
    } catch (const std::exception&) {
        return unexpected(makeJsonRpcError(kInternalError, "internal error reading the request"));
    }
}

void wipeStrings(json& value) {
    if (value.is_string()) {
        crypto::wipe(value.get_ref<std::string&>());
    } else if (value.is_structured()) {
        for (auto& element : value) wipeStrings(element);
    }
}

JsonRpcErrorObject toJsonRpcError(const Error& e) {
    int code = kApplicationError;
    if (e.code == ErrorCode::usage) code = kInvalidParams;
    if (e.code == ErrorCode::internal) code = kInternalError;
    json data = {{"code", std::string(codeName(e.code))}};
    if (e.tries_left) data["tries_left"] = *e.tries_left;
    if (e.pin_state) data["pin_state"] = *e.pin_state;
    if (e.reason) data["reason"] = *e.reason;
    if (e.sw) data["sw"] = swText(*e.sw);
    std::string message = e.message.empty() ? std::string(codeName(e.code)) : e.message;
    return makeJsonRpcError(code, std::move(message), std::move(data));
}

std::optional<Error> fromJsonRpcError(const json& error) {
    if (!error.is_object()) return std::nullopt;
    Error e;
    e.code = ErrorCode::internal;
    if (auto m = error.find("message"); m != error.end() && m->is_string())
        e.message = m->get<std::string>();
    auto data = error.find("data");
    if (data != error.end() && data->is_object()) {
        if (auto c = data->find("code"); c != data->end() && c->is_string()) {
            const auto& name = c->get_ref<const std::string&>();
            for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
                auto code = static_cast<ErrorCode>(i);
                if (codeName(code) == name) e.code = code;
            }
        }
        if (auto t = data->find("tries_left"); t != data->end() && t->is_number_integer())
            e.tries_left = t->get<int>();
        if (auto p = data->find("pin_state"); p != data->end() && p->is_string())
            e.pin_state = p->get<std::string>();
        if (auto r = data->find("reason"); r != data->end() && r->is_string())
            e.reason = r->get<std::string>();
        if (auto w = data->find("sw"); w != data->end() && w->is_string())
            e.sw = swFromText(w->get_ref<const std::string&>());
    } else if (auto c = error.find("code"); c != error.end() && c->is_number_integer()) {
        if (c->get<int>() == kInvalidParams) e.code = ErrorCode::usage;
    }
    return e;
}

std::string dumpCompact(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string responseLine(const json& id, const json& result) {
    json r = {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
    return dumpCompact(r) + "\n";
}

std::string errorLine(const JsonRpcErrorObject& e) {
    json r = {{"jsonrpc", "2.0"}, {"id", e.id}, {"error", e.toJson()}};
    return dumpCompact(r) + "\n";
}

std::string notificationLine(std::string_view method, const json& params) {
    json r = {{"jsonrpc", "2.0"}, {"method", method}, {"params", params}};
    return dumpCompact(r) + "\n";
}

std::string requestLine(const json& id, std::string_view method, const json& params) {
    json r = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
    return dumpCompact(r) + "\n";
}

}  // namespace sscard::api
